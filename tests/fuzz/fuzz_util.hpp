/// Helpers shared by the libFuzzer targets: a scratch file on tmpfs for code that reads
/// files, and a check that aborts (so libFuzzer records the input) when an invariant fails.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace recflow::fuzz {

/// Aborts with a message: the fuzzer saves the input that got here.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

/// A per-process file under /dev/shm (or $TMPDIR) holding the current input.
inline const std::string& scratch_path(const char* name) {
  static const std::string path = [&] {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/recflow-fuzz-" + name + "-" + std::to_string(::getpid());
  }();
  return path;
}

inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f)
    fail("cannot write the scratch file");
  if (size > 0 && std::fwrite(data, 1, size, f) != size)
    fail("cannot write the scratch file");
  std::fclose(f);
}

}  // namespace recflow::fuzz
