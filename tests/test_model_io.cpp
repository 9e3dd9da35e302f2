// Model persistence: round trips, metadata and atomic saves.
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

TEST_CASE("model io: a saved model loads back equal", "[io]") {
  auto rank = GENERATE(1, 50);
  auto with_rated = GENERATE(false, true);
  temp_dir dir;
  auto path = dir.file("model.rfm");
  auto m = make_model(rank, 7, 5, with_rated);
  REQUIRE(m.users().contains(std::int64_t(1) << 40 | 1));
  REQUIRE(m.users().contains(-1));
  REQUIRE(save_model(m, path));
  CHECK(dir.entries() == 1);  // no temporary file left behind
  auto back = load_model(path);
  REQUIRE(back);
  CHECK(*back == m);
  CHECK(back->rated().empty() == !with_rated);
}

TEST_CASE("model io: models without users or items round-trip", "[io]") {
  using sizes = std::pair<index_t, index_t>;
  auto [n_users, n_items] = GENERATE(sizes{0, 4}, sizes{0, 0}, sizes{3, 0});
  auto with_rated = GENERATE(false, true);
  temp_dir dir;
  auto m = make_model(3, n_users, n_items, with_rated);
  REQUIRE(save_model(m, dir.file("m")));
  auto back = load_model(dir.file("m"));
  REQUIRE(back);
  CHECK(*back == m);
}

TEST_CASE("model io: metadata is saved and read back with the model's summary", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  auto m = make_model(4, 6, 3, true);
  model_metadata meta;
  meta.set("trainer", "als");
  meta.set("lambda", "0.1");
  meta.set("note", "a = b, with spaces");
  meta.set("trainer", "streaming");  // replaces
  REQUIRE(save_model(m, path, meta));
  model_metadata back_meta;
  auto back = load_model(path, back_meta);
  REQUIRE(back);
  CHECK(*back == m);
  CHECK(back_meta == meta);
  CHECK(back_meta.get("trainer") == "streaming");
  CHECK(back_meta.get("note") == "a = b, with spaces");
  CHECK_FALSE(back_meta.get("seed"));
  auto info = read_model_info(path);
  REQUIRE(info);
  CHECK(info->format_version == model_format_version);
  CHECK(info->rank == 4);
  CHECK(info->n_users == 6);
  CHECK(info->n_items == 3);
  CHECK(info->has_rated_index);
  CHECK(info->mu == m.mu());
  CHECK(info->mu_count == 1234);
  CHECK(info->file_size == fs::file_size(path));
  CHECK(info->metadata == meta);
  auto bad_key = GENERATE("", "a=b", "line\nbreak");
  model_metadata bad;
  bad.set(bad_key, "x");
  auto refused = save_model(m, dir.file("bad"), bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.err().code == errc::invalid_argument);
  CHECK_FALSE(fs::exists(dir.file("bad")));
}

TEST_CASE("model io: saving over an existing file replaces it", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  auto first = make_model(2, 5, 5, false, 1);
  auto second = make_model(3, 8, 2, true, 2);
  REQUIRE(save_model(first, path));
  REQUIRE(save_model(second, path));
  CHECK(dir.entries() == 1);
  auto back = load_model(path);
  REQUIRE(back);
  CHECK(*back == second);
}

TEST_CASE("model io: saving into a missing directory fails with errc::io, leaving nothing",
          "[io]") {
  temp_dir dir;
  auto path = dir.file("missing/m.rfm");
  auto saved = save_model(make_model(2, 3, 3, false), path);
  REQUIRE_FALSE(saved);
  CHECK(saved.err().code == errc::io);
  CHECK_THAT(saved.err().message, Contains(path) && Contains("No such file or directory"));
  CHECK(dir.entries() == 0);
}

TEST_CASE("model io: a failed rename removes the temporary file and keeps the old one",
          "[io]") {
  temp_dir dir;
  auto target = dir.file("taken");  // a non-empty directory cannot be renamed over
  fs::create_directory(target);
  write_bytes(target + "/keep", "precious");
  auto saved = save_model(make_model(2, 3, 3, false), target);
  REQUIRE_FALSE(saved);
  CHECK(saved.err().code == errc::io);
  CHECK_THAT(saved.err().message, Contains(target));
  CHECK(dir.entries() == 1);
  CHECK(read_bytes(target + "/keep") == "precious");
}

TEST_CASE("model io: a model the loader would reject is not saved", "[io]") {
  temp_dir dir;
  auto path = dir.file("m");
  auto m = make_model(3, 4, 4, true);
  auto which = GENERATE(0, 1, 2, 3);
  if (which == 0)
    m.U().row(2)[1] = std::numeric_limits<double>::quiet_NaN();
  else if (which == 1)
    m.item_bias()[3] = std::numeric_limits<double>::infinity();
  else if (which == 2)
    m.rated().items.front() = 99;
  else
    m = factor_model{};  // rank 0
  auto saved = save_model(m, path);
  REQUIRE_FALSE(saved);
  CHECK(saved.err().code == errc::invalid_value);
  CHECK(dir.entries() == 0);
}

TEST_CASE("model io: the trailer is the XXH64 of every byte before it", "[io]") {
  auto hash = [](std::string_view s) { return xxhash64(std::as_bytes(std::span(s))); };
  // Reference values from libxxhash 0.8.1.
  CHECK(hash("") == 0xef46db3751d8e999ull);
  CHECK(hash("a") == 0xd24ec4f1a98c6e5bull);
  CHECK(hash("abc") == 0x44bc2cf5ad770999ull);
  std::string long_text;
  for (int k = 0; k < 3; ++k)
    long_text += "recflow model format checksum test vector 0123456789";
  CHECK(hash(long_text) == 0xed42302bbbfeb707ull);
  temp_dir dir;
  REQUIRE(save_model(make_model(5, 9, 4, true), dir.file("m")));
  auto bytes = read_bytes(dir.file("m"));
  auto resealed = bytes;
  reseal(resealed);
  CHECK(resealed == bytes);
}
