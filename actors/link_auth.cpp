#include "recflow/actors/link_auth.hpp"

#include <sys/random.h>

#include <array>
#include <cstdint>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace recflow::link_auth {

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t k = 0; k < n; ++k) {
    out[2 * k] = digits[p[k] >> 4];
    out[2 * k + 1] = digits[p[k] & 15];
  }
  return out;
}

}  // namespace

std::string nonce() {
  std::array<unsigned char, 32> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    auto n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0)
      throw std::runtime_error("getrandom failed: no nonce for the node handshake");
    got += static_cast<std::size_t>(n);
  }
  return hex(bytes.data(), bytes.size());
}

std::string hmac_hex(std::string_view secret, std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
            reinterpret_cast<const unsigned char*>(text.data()), text.size(), md, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  return hex(md, len);
}

std::string node_proof(std::string_view secret, std::string_view driver_nonce,
                       std::string_view node_nonce) {
  std::string text = "recflow node|";
  text.append(driver_nonce).append("|").append(node_nonce);
  return hmac_hex(secret, text);
}

std::string driver_proof(std::string_view secret, std::string_view node_nonce,
                         std::string_view driver_id) {
  std::string text = "recflow driver|";
  text.append(node_nonce).append("|").append(driver_id);
  return hmac_hex(secret, text);
}

bool same(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace recflow::link_auth
