/// Internals of the model file format (see model_io.hpp for the layout): constants, the
/// XXH64 checksum, checked file writing and reading, and the parameter invariants.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "recflow/model/model.hpp"

namespace recflow::io_detail {

using tag_t = std::array<char, 4>;
inline constexpr std::array<char, 8> magic{'R', 'E', 'C', 'F', 'L', 'O', 'W', '\0'};
inline constexpr std::uint32_t endian_marker = 0x01020304u;
inline constexpr std::size_t header_size = 32;
inline constexpr std::size_t section_header_size = 16;
inline constexpr std::size_t trailer_size = 8;
inline constexpr std::size_t parm_size = 56;
inline constexpr std::uint32_t flag_required = 1;
/// id_map indices are u32 and 0xffffffff is its npos.
inline constexpr std::uint64_t max_ids = 0xffffffffu;

inline constexpr tag_t tag_parm{'P', 'A', 'R', 'M'}, tag_uids{'U', 'I', 'D', 'S'},
    tag_iids{'I', 'I', 'D', 'S'}, tag_ubia{'U', 'B', 'I', 'A'}, tag_ibia{'I', 'B', 'I', 'A'},
    tag_ucnt{'U', 'C', 'N', 'T'}, tag_icnt{'I', 'C', 'N', 'T'}, tag_uf32{'U', 'F', '3', '2'},
    tag_if32{'I', 'F', '3', '2'}, tag_ratd{'R', 'A', 'T', 'D'}, tag_meta{'M', 'E', 'T', 'A'};
/// Version 1's factor sections (f64), still read: the values are rounded to float.
inline constexpr tag_t tag_ufac{'U', 'F', 'A', 'C'}, tag_ifac{'I', 'F', 'A', 'C'};

/// Copies a little-endian value into or out of a byte buffer (hosts are little-endian).
template <class T>
void store(std::byte* at, T v) noexcept {
  std::memcpy(at, &v, sizeof v);
}
template <class T>
T load(const std::byte* at) noexcept {
  T v;
  std::memcpy(&v, at, sizeof v);
  return v;
}

/// The OS's text for an errno value, as strerror gives it.
std::string os_reason(int e);
/// A tag as quoted text, bytes that are not printable ASCII escaped ('\x00').
std::string tag_name(const tag_t& t);

/// XXH64 over bytes fed in pieces; digest() equals the one-shot hash of their
/// concatenation. The reference algorithm (Yann Collet), written out.
class xxh64 {
 public:
  explicit xxh64(std::uint64_t seed = 0) noexcept;
  void update(const void* data, std::size_t n) noexcept;
  std::uint64_t digest() const noexcept;

 private:
  void stripes(const unsigned char* p, std::size_t n) noexcept;
  std::uint64_t seed_;
  std::array<std::uint64_t, 4> v_;
  std::array<unsigned char, 32> buf_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

/// The parameters of a model, owned elsewhere (a model being saved, or parts being loaded).
struct param_view {
  int rank;
  rating_scale scale;
  double mu;
  std::span<const double> user_bias, item_bias;
  std::span<const float> U, P;
  const rated_items& rated;
  std::size_t n_users, n_items;
};

/// What is wrong with the parameters (rank, scale, non-finite values, rated-items index),
/// or nothing. The tables' sizes must agree with n_users, n_items and rank.
std::optional<std::string> find_problem(const param_view& v);

/// Buffers small pieces, writes large ones straight from the caller's memory, and hashes
/// everything except what goes through put_unhashed. Stops at the first failure.
class file_writer {
 public:
  explicit file_writer(int fd) : fd_(fd) { buf_.reserve(capacity); }
  void put(std::span<const std::byte> s) {
    hash_.update(s.data(), s.size());
    put_unhashed(s);
  }
  void put_unhashed(std::span<const std::byte> s);
  std::uint64_t digest() const noexcept { return hash_.digest(); }
  /// Writes what is buffered; returns the errno of the first failure, or 0.
  int finish();

 private:
  static constexpr std::size_t capacity = std::size_t(1) << 16;
  void flush();
  int fd_;
  int err_ = 0;
  std::vector<std::byte> buf_;
  xxh64 hash_;
};

/// Reads exactly the bytes asked for, hashing them unless told not to. Returns 0 or an
/// errno; a read that meets the end of the file early (it shrank) reports ENODATA.
class file_reader {
 public:
  explicit file_reader(int fd) : fd_(fd) {}
  std::uint64_t offset() const noexcept { return pos_; }
  int read(void* dest, std::size_t n, bool hash = true);
  /// Reads and hashes `n` bytes without keeping them.
  int skip(std::uint64_t n);
  std::uint64_t digest() const noexcept { return hash_.digest(); }

 private:
  int fd_;
  std::uint64_t pos_ = 0;
  xxh64 hash_;
};

}  // namespace recflow::io_detail
