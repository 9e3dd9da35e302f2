// What the model-io tests share: a temporary directory, a random model, and helpers that
// read, damage and reseal model files by the documented layout.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>

#include "recflow/model/model_io.hpp"

namespace recflow::io_test {

namespace fs = std::filesystem;

/// A fresh directory under the system temp directory, removed with everything in it.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static int counter = 0;
    path = fs::temp_directory_path()
           / ("recflow_test_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(path), {}));
  }
};

/// A model with external ids that are negative, small and above 2^32, random parameters.
inline factor_model make_model(int rank, index_t n_users, index_t n_items, bool with_rated,
                        std::uint64_t seed = 7) {
  factor_model m(rank, rating_scale{0.5, 5.0});
  m.set_mu(3.52, 1234);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  auto id_of = [](index_t k, std::int64_t big) {
    auto x = static_cast<std::int64_t>(k);
    return k % 3 == 0 ? -1 - 7 * x : (k % 3 == 1 ? big + x : 13 * x);
  };
  for (index_t u = 0; u < n_users; ++u) {
    auto x = m.add_user(id_of(u, std::int64_t(1) << 40), seed, 0.1);
    m.user_bias()[x] = uniform(rng);
    m.user_count()[x] = static_cast<std::uint32_t>(rng() % 50);
  }
  for (index_t i = 0; i < n_items; ++i) {
    auto x = m.add_item(id_of(i, (std::int64_t(1) << 33) + 5), seed, 0.1);
    m.item_bias()[x] = uniform(rng);
    m.item_count()[x] = static_cast<std::uint32_t>(rng() % 50);
  }
  if (with_rated) {
    std::vector<rating> rs;
    for (index_t k = 0; n_items > 0 && k < 3 * n_users; ++k)
      rs.push_back({static_cast<index_t>(rng() % n_users), static_cast<index_t>(rng() % n_items),
                    4.0f, 0});
    m.rated() = rated_items::build(rs, n_users);
  }
  return m;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Replaces the file at `path` by a new one (removing first spares ext4 the flush that it
/// does when a file is truncated and rewritten, which made the loops below slow).
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
inline void put(std::string& b, std::size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

/// Rewrites the trailing checksum so that only the deliberate damage remains.
inline void reseal(std::string& b) {
  auto body = std::as_bytes(std::span(b.data(), b.size() - 8));
  put(b, b.size() - 8, xxhash64(body));
}

/// Offset of the header of section `tag` (walking the documented layout).
inline std::size_t section_offset(const std::string& b, std::string_view tag) {
  for (std::size_t at = 32; at + 16 <= b.size() - 8;) {
    std::uint64_t len;
    std::memcpy(&len, b.data() + at + 8, 8);
    if (std::string_view(b.data() + at, 4) == tag)
      return at;
    at += 16 + len;
  }
  FAIL("no section " << tag);
  return 0;
}

/// A tagged section with `payload`, inserted at `at`; the header's size field follows.
inline void insert_section(std::string& b, std::size_t at, std::string_view tag, std::uint32_t flags,
                    const std::string& payload) {
  std::string s(16, '\0');
  std::memcpy(s.data(), tag.data(), 4);
  put(s, 4, flags);
  put(s, 8, std::uint64_t(payload.size()));
  b.insert(at, s + payload);
  put(b, 24, std::uint64_t(b.size()));
}

}  // namespace recflow::io_test
