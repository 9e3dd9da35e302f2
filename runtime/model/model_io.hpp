/// Saving and loading models: a versioned binary format with a checksum, written
/// atomically (temporary file, flush, rename) so a crash never leaves a torn file.
///
/// Format version 2. Every integer and floating-point value is little-endian (IEEE-754
/// binary64 "f64", binary32 "f32"); this code builds only on little-endian hosts. A file
/// is a header, tagged sections, and a checksum:
///
/// | offset | bytes | field                                                        |
/// |--------|-------|--------------------------------------------------------------|
/// | 0      | 8     | magic "RECFLOW\0"                                            |
/// | 8      | 4     | format version, u32 (2)                                      |
/// | 12     | 4     | endianness marker, u32 0x01020304 (bytes 04 03 02 01)        |
/// | 16     | 4     | flags, u32: 0; reserved, ignored by version-1 readers        |
/// | 20     | 4     | reserved, u32: 0                                             |
/// | 24     | 8     | file size in bytes, u64, trailer included                    |
/// | 32     | ...   | sections, back to back, each:                                |
/// |        | 4     | tag, four ASCII bytes such as "PARM"                         |
/// |        | 4     | section flags, u32: bit 0 = required (see below)             |
/// |        | 8     | payload length n, u64                                        |
/// |        | n     | payload                                                      |
/// | size-8 | 8     | XXH64 (xxHash64, seed 0) of bytes [0, size-8), u64           |
///
/// Sections of version 2 (nu users, ni items, rank k; "PARM" comes first):
///
/// | tag  | payload                                                                   |
/// |------|---------------------------------------------------------------------------|
/// | PARM | rank u32, 0 u32, scale min f64, scale max f64, mu f64, mu_count u64,      |
/// |      | nu u64, ni u64 (56 bytes)                                                 |
/// | UIDS | nu external user ids, i64, in dense order                                 |
/// | IIDS | ni external item ids, i64, in dense order                                 |
/// | UBIA | nu user biases, f64                                                       |
/// | IBIA | ni item biases, f64                                                       |
/// | UCNT | nu user rating counts, u32                                                |
/// | ICNT | ni item rating counts, u32                                                |
/// | UF32 | nu*k user factors, f32, row-major (k per user)                            |
/// | IF32 | ni*k item factors, f32, row-major                                         |
/// | RATD | rated-items index (optional): nu+1 offsets u64, then the items u32        |
/// | META | metadata (optional, not required): "key=value\n" lines, no '=' in keys  |
///
/// The writer marks every section but META required and writes them in this order; a
/// reader accepts the sections after PARM in any order, each known tag at most once.
///
/// Version 1 was the same but for the factors: sections UFAC and IFAC held them as f64.
/// This build reads version-1 files too, rounding their factors to float (the precision
/// models keep in memory since version 2, see factor_table); a file holding both UFAC
/// and UF32 (or IFAC and IF32) is refused. A version-1 build refuses version-2 files
/// with its "newer format" error.
/// The checksum is XXH64 as in the xxHash library (0.8), written out in
/// model_io_detail.cpp; xxhash64() below exposes it.
///
/// Forward compatibility: a reader skips a section whose tag it does not know unless
/// the section's "required" flag is set, in which case the file needs a newer reader
/// (errc::version). A later version adds data as new sections (say a checkpoint's
/// stream position) rather than by growing these: known sections have exact lengths.
///
/// The loader checks, in this order: magic, version (errc::version when newer),
/// endianness marker, the size field against the real size (truncation), every section
/// length against the bytes left (so a corrupt length never makes it allocate more than
/// the file holds), rank in 1..max_saved_rank and at most 2^32-1 ids per side (they size
/// the other sections), the checksum, then meaning: no duplicate ids, finite scale, mu,
/// biases and factors, and a rated-items index with monotone offsets and known items,
/// sorted within each user. factor_model::from_parts then checks the sizes again.
/// Failures are errc::corrupt except for the version ones and errc::io for the OS's;
/// every message starts with or names the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recflow/model/error.hpp"
#include "recflow/model/model.hpp"

namespace recflow {

/// The format version this build writes, and the newest it reads.
inline constexpr std::uint32_t model_format_version = 2;
/// The largest rank a model file may have.
inline constexpr int max_saved_rank = 4096;

/// Free-form facts saved beside a model (trainer name, training parameters, ...):
/// key=value pairs in insertion order. Keys are non-empty and hold no '=' or newline;
/// values hold no newline.
struct model_metadata {
  std::vector<std::pair<std::string, std::string>> entries;

  /// Sets `key` to `value`, replacing an earlier value of the same key.
  void set(std::string_view key, std::string_view value);
  /// The value of `key`, or nothing.
  std::optional<std::string> get(std::string_view key) const;
  friend bool operator==(const model_metadata&, const model_metadata&) = default;
};

/// What a model file says about itself, read without keeping the parameters.
struct model_info {
  std::uint32_t format_version = 0;
  int rank = 0;
  rating_scale scale;
  double mu = 0.0;
  std::uint64_t mu_count = 0;
  std::uint64_t n_users = 0;
  std::uint64_t n_items = 0;
  bool has_rated_index = false;
  std::uint64_t file_size = 0;
  model_metadata metadata;
};

/// Writes `m` to `path` atomically: the bytes go to `path.tmp.<pid>` in the same
/// directory, which is flushed, fsynced and renamed over `path`, then the directory is
/// fsynced. On failure (errc::io naming the path and the OS reason) the temporary file
/// is removed and a previous file at `path` is untouched. A model that the loader would
/// reject (rank outside 1..max_saved_rank, a NaN or infinite parameter, an unsorted
/// rated-items index) is refused with errc::invalid_value before anything is written.
/// If only the final directory fsync fails, the new file is already in place and the
/// error says so. Two threads of one process must not save to the same path at once.
result<void> save_model(const factor_model& m, const std::string& path);

/// Same, with metadata; a key or value that breaks the rules of model_metadata is
/// refused with errc::invalid_argument.
result<void> save_model(const factor_model& m, const std::string& path,
                        const model_metadata& metadata);

/// Reads a model; a wrong magic, an unknown version, a truncated file or a checksum
/// mismatch is an error that names the file and the problem.
result<factor_model> load_model(const std::string& path);

/// Same, and stores the file's metadata (empty when it has none) in `metadata`.
result<factor_model> load_model(const std::string& path, model_metadata& metadata);

/// Reads a file's header, parameters section and metadata. Checks the structure and the
/// checksum of the whole file as load_model does, but not what the parameters it skips
/// mean (duplicate ids, non-finite values).
result<model_info> read_model_info(const std::string& path);

/// XXH64 of `data` with `seed`: the checksum of the model format (tools and tests).
std::uint64_t xxhash64(std::span<const std::byte> data, std::uint64_t seed = 0) noexcept;

}  // namespace recflow
