#include "recflow/model/temp_file.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>

namespace recflow {

std::string unpredictable_temp_name(const std::string& path) {
  std::uint64_t r = 0;
  auto* bytes = reinterpret_cast<unsigned char*>(&r);
  std::size_t got = 0;
  while (got < sizeof r) {
    auto n = ::getrandom(bytes + got, sizeof r - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (errno != EINTR) {  // no getrandom (old kernel): the library's device
      std::random_device device;
      r = (std::uint64_t(device()) << 32) ^ device();
      break;
    }
  }
  static const char* hex = "0123456789abcdef";
  std::string digits(16, '0');
  for (int k = 15; k >= 0; --k, r >>= 4)
    digits[static_cast<std::size_t>(k)] = hex[r & 15];
  return path + ".tmp." + std::to_string(::getpid()) + "." + digits;
}

int create_new_file(const std::string& path) noexcept {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
}

long temp_name_pid(const std::string& after_tmp) noexcept {
  long pid = 0;
  std::size_t k = 0;
  for (; k < after_tmp.size() && after_tmp[k] >= '0' && after_tmp[k] <= '9' && k < 10; ++k)
    pid = pid * 10 + (after_tmp[k] - '0');
  if (k == 0 || (k < after_tmp.size() && after_tmp[k] != '.'))
    return 0;
  return pid;
}

}  // namespace recflow
