// Model files that are damaged, truncated, hostile or of another format version: the
// loader rejects each with a clear error, and still reads version-1 files.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "model_io_test_util.hpp"

using namespace recflow;
using namespace recflow::io_test;
using Catch::Matchers::Contains;

TEST_CASE("model io: flipping any byte of a file is an error, never a crash", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  model_metadata meta;
  meta.set("trainer", "als");
  REQUIRE(save_model(make_model(2, 3, 2, true), path, meta));
  const auto good = read_bytes(path);
  auto mask = GENERATE(0x01, 0x80, 0xff);
  for (std::size_t at = 0; at < good.size(); ++at) {
    auto bad = good;
    bad[at] = static_cast<char>(bad[at] ^ mask);
    write_bytes(path, bad);
    INFO("byte " << at << " of " << good.size() << " xor " << mask);
    auto loaded = load_model(path);
    REQUIRE_FALSE(loaded);
    CHECK_THAT(loaded.err().message, Contains(path));
    CHECK_FALSE(read_model_info(path));
  }
  // Where the damage is decides the diagnosis.
  auto expect = [&](std::size_t at, errc code, const std::string& text) {
    auto bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    write_bytes(path, bad);
    auto loaded = load_model(path);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.err().code == code);
    CHECK_THAT(loaded.err().message, Contains(text));
  };
  expect(0, errc::corrupt, "not a recflow model");
  expect(9, errc::version, "format version " + std::to_string(model_format_version ^ 0x100));
  expect(8 + 4, errc::corrupt, "endianness");
  expect(32 + 16 + 8, errc::corrupt, "checksum mismatch");  // scale min, in the payload
  expect(section_offset(good, "UF32") + 9, errc::corrupt, "claims");  // a section length
  expect(good.size() - 1, errc::corrupt, "checksum mismatch");
}

TEST_CASE("model io: a file cut short at any length, or too long, is an error", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  REQUIRE(save_model(make_model(2, 3, 2, true), path));
  const auto good = read_bytes(path);
  for (std::size_t size = 0; size < good.size(); ++size) {
    write_bytes(path, good.substr(0, size));
    INFO("cut at " << size << " of " << good.size());
    auto loaded = load_model(path);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.err().code == errc::corrupt);
    if (size >= 32)
      CHECK_THAT(loaded.err().message, Contains("truncated"));
  }
  auto longer = good;
  longer.insert(longer.end() - 8, 'x');  // one byte more than the header says
  reseal(longer);
  write_bytes(path, longer);
  auto loaded = load_model(path);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.err().message, Contains("the header says"));
}

TEST_CASE("model io: a file that is not a model is refused by its magic", "[io]") {
  temp_dir dir;
  auto path = dir.file("ratings.csv");
  write_bytes(path, "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n");
  auto loaded = load_model(path);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.err().code == errc::corrupt);
  CHECK_THAT(loaded.err().message, Contains(path) && Contains("not a recflow model"));
  auto missing = load_model(dir.file("nothing"));
  REQUIRE_FALSE(missing);
  CHECK(missing.err().code == errc::io);
  CHECK_THAT(missing.err().message, Contains("No such file or directory"));
}

TEST_CASE("model io: a file of a future format version is errc::version", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  REQUIRE(save_model(make_model(2, 3, 2, false), path));
  auto bytes = read_bytes(path);
  put(bytes, 8, model_format_version + 1);
  write_bytes(path, bytes);
  auto loaded = load_model(path);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.err().code == errc::version);
  CHECK_THAT(loaded.err().message,
             Contains(path) && Contains("format version " + std::to_string(model_format_version + 1)
                                        + ", this build reads up to "
                                        + std::to_string(model_format_version)));
}

namespace {

/// `v2` (a file as this build writes it) as format version 1 wrote it: the factor
/// sections UF32 / IF32 become UFAC / IFAC holding f64, resealed.
std::string as_version_1(std::string v2) {
  for (auto [from, to] : {std::pair{"UF32", "UFAC"}, std::pair{"IF32", "IFAC"}}) {
    auto at = section_offset(v2, from);
    std::uint64_t len;
    std::memcpy(&len, v2.data() + at + 8, 8);
    std::string wide;
    for (std::uint64_t k = 0; k < len; k += 4) {
      float f;
      std::memcpy(&f, v2.data() + at + 16 + k, 4);
      double d = f;
      wide.append(reinterpret_cast<const char*>(&d), 8);
    }
    v2.erase(at, 16 + len);
    insert_section(v2, at, to, 1, wide);
  }
  put(v2, 8, std::uint32_t(1));
  reseal(v2);
  return v2;
}

}  // namespace

TEST_CASE("model io: version-1 files (f64 factors) still load, rounded to float", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  auto m = make_model(5, 6, 4, true);
  REQUIRE(save_model(m, path));
  auto v1 = as_version_1(read_bytes(path));
  write_bytes(path, v1);
  auto loaded = load_model(path);
  REQUIRE(loaded);
  CHECK(*loaded == m);  // floats widened to double and back are exact
  auto info = read_model_info(path);
  REQUIRE(info);
  CHECK(info->format_version == 1);
  // A version-1 value that float cannot hold rounds to the nearest float.
  auto at = section_offset(v1, "UFAC") + 16;
  put(v1, at, 0.1);
  reseal(v1);
  write_bytes(path, v1);
  loaded = load_model(path);
  REQUIRE(loaded);
  CHECK(loaded->U().row(0)[0] == 0.1f);
  // Both encodings of the same factors: refused.
  auto both = read_bytes(dir.file("m"));
  auto v2 = [&] {
    temp_dir d2;
    REQUIRE(save_model(m, d2.file("m")));
    return read_bytes(d2.file("m"));
  }();
  auto uf32 = section_offset(v2, "UF32");
  std::uint64_t len;
  std::memcpy(&len, v2.data() + uf32 + 8, 8);
  insert_section(both, section_offset(both, "UFAC"), "UF32", 1, v2.substr(uf32 + 16, len));
  reseal(both);
  write_bytes(path, both);
  loaded = load_model(path);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.err().message, Contains("'UFAC' and 'UF32' both hold the same factors"));
}

TEST_CASE("model io: a length field claiming 2^60 bytes fails at once", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  REQUIRE(save_model(make_model(4, 5, 5, true), path));
  const auto good = read_bytes(path);
  auto where = GENERATE(as<std::string>{}, "UIDS", "UF32", "RATD", "appended");
  auto bad = good;
  if (where == "appended")
    insert_section(bad, bad.size() - 8, "XTRA", 0, "");
  auto at = section_offset(bad, where == "appended" ? "XTRA" : where);
  put(bad, at + 8, std::uint64_t(1) << 60);
  reseal(bad);
  write_bytes(path, bad);
  auto start = std::chrono::steady_clock::now();
  auto loaded = load_model(path);
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(loaded);
  CHECK(loaded.err().code == errc::corrupt);
  CHECK_THAT(loaded.err().message, Contains("claims 1152921504606846976 bytes"));
  CHECK(took < std::chrono::seconds(1));
}

/// Bytes of a value, as the format stores it.
template <class T>
std::string raw(T v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

/// Bytes written over a file at an offset from the start of a section's payload.
struct damage {
  std::string name;
  std::string tag;
  std::ptrdiff_t offset;  ///< from the payload; -16 is the section's tag
  std::string bytes;
  errc code;
  std::string diagnosis;
};

TEST_CASE("model io: resealed files with impossible contents are rejected", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  REQUIRE(save_model(make_model(3, 6, 4, true), path));  // rank 3, 6 users, 4 items
  const auto good = read_bytes(path);
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  const auto inf = std::numeric_limits<double>::infinity();
  auto id0 = good.substr(section_offset(good, "UIDS") + 16, 8);
  auto d = GENERATE_COPY(
      damage{"duplicate user id", "UIDS", 8, id0, errc::corrupt, "duplicate user id"},
      damage{"NaN factor", "UF32", 4 * 7, raw(std::numeric_limits<float>::quiet_NaN()), errc::corrupt,
             "non-finite value in the factors of user at index 2"},
      damage{"infinite bias", "IBIA", 8, raw(inf), errc::corrupt, "bias of item at index 1"},
      damage{"NaN mean", "PARM", 24, raw(nan), errc::corrupt, "global mean"},
      damage{"rank 0", "PARM", 0, raw(std::uint32_t(0)), errc::corrupt,
             "rank 0 is outside 1..4096"},
      damage{"rank 5000", "PARM", 0, raw(std::uint32_t(5000)), errc::corrupt, "rank 5000"},
      damage{"empty scale", "PARM", 8, raw(9.0), errc::corrupt, "rating scale"},
      damage{"2^40 users", "PARM", 40, raw(std::uint64_t(1) << 40), errc::corrupt,
             "more than an id map holds"},
      damage{"one user too many", "PARM", 40, raw(std::uint64_t(7)), errc::corrupt,
             "section 'UIDS' has 48 bytes, expected 7 x 8"},
      damage{"rated item out of range", "RATD", 8 * 7, raw(std::uint32_t(4)), errc::corrupt,
             "names item 4 of 4"},
      damage{"rated offsets not monotone", "RATD", 8, raw(std::uint64_t(1000)), errc::corrupt,
             "offsets decrease at user index 1"},
      damage{"required section renamed", "UCNT", -16, "ucnt", errc::version,
             "needs section 'ucnt'"},
      damage{"optional section renamed", "UCNT", -16, std::string("ucnt\0\0\0\0", 8),
             errc::corrupt, "missing section 'UCNT'"},
      damage{"PARM not first", "PARM", -16, "\x01RM!", errc::corrupt,
             "the first section is '\\x01RM!', expected 'PARM'"});
  INFO(d.name);
  auto bad = good;
  auto at = static_cast<std::ptrdiff_t>(section_offset(good, d.tag)) + 16 + d.offset;
  bad.replace(static_cast<std::size_t>(at), d.bytes.size(), d.bytes);
  reseal(bad);
  write_bytes(path, bad);
  auto loaded = load_model(path);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.err().code == d.code);
  CHECK_THAT(loaded.err().message, Contains(path) && Contains(d.diagnosis));
}

TEST_CASE("model io: unknown optional sections are skipped, unknown required ones refused",
          "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  auto m = make_model(3, 5, 4, true);
  REQUIRE(save_model(m, path));
  const auto good = read_bytes(path);
  auto after_parm = GENERATE(true, false);
  auto bad = good;
  auto at = after_parm ? section_offset(good, "UIDS") : good.size() - 8;
  insert_section(bad, at, "CKPT", 0, "stream position 12345");
  reseal(bad);
  write_bytes(path, bad);
  auto loaded = load_model(path);
  REQUIRE(loaded);
  CHECK(*loaded == m);
  put(bad, at + 4, std::uint32_t(1));  // now marked required
  reseal(bad);
  write_bytes(path, bad);
  loaded = load_model(path);
  REQUIRE_FALSE(loaded);
  CHECK(loaded.err().code == errc::version);
  CHECK_THAT(loaded.err().message, Contains("'CKPT'"));
}
