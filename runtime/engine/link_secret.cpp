#include "recflow/engine/link_secret.hpp"

#include <memory>
#include <string_view>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "recflow/actors/link_auth.hpp"
#include "recflow/model/private_file.hpp"

namespace recflow {

result<std::string> read_secret_file(const std::string& path) {
  auto all = read_private_file(path, "secret file");
  if (!all)
    return all.err();
  auto secret = std::string(trim_blanks(*all));
  if (secret.size() < link_auth::min_secret_bytes)
    return error{errc::invalid_argument,
                 "the secret in " + path + " has " + std::to_string(secret.size())
                   + " bytes, fewer than " + std::to_string(link_auth::min_secret_bytes)
                   + " (make one with: head -c 32 /dev/urandom | base64 > " + path + ")"};
  return secret;
}

result<void> check_link_security(const std::string& secret, bool insecure, const link_tls& tls) {
  if (insecure && !secret.empty())
    return error{errc::invalid_argument, "a shared secret and --insecure exclude each other"};
  if (insecure && tls.enabled())
    return error{errc::invalid_argument, "TLS and --insecure exclude each other"};
  if (secret.empty() && !tls.enabled() && !insecure)
    return error{errc::invalid_argument,
                 "node links need a shared secret (--secret-file PATH, a file only you can "
                 "read), TLS (--tls-cert, --tls-key and --tls-ca) or both, or, for plain "
                 "unauthenticated links, --insecure"};
  if (!secret.empty() && secret.size() < link_auth::min_secret_bytes)
    return error{errc::invalid_argument,
                 "the shared secret has " + std::to_string(secret.size())
                   + " bytes, fewer than " + std::to_string(link_auth::min_secret_bytes)};
  return check_link_tls(tls);
}

namespace {

/// OpenSSL's queued errors, oldest first, "; "-separated (and the queue emptied).
std::string openssl_errors() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

/// Refuses to prompt for a passphrase: an encrypted key is an error, not a question on
/// the terminal of a process that may run unattended.
int no_passphrase(char*, int, int, void*) { return 0; }

}  // namespace

result<void> check_link_tls(const link_tls& tls) {
  if (!tls.enabled())
    return {};  // plain TCP
  if (tls.certificate.empty() || tls.key.empty() || tls.ca.empty())
    return error{errc::invalid_argument,
                 "TLS on node links needs all three files: --tls-cert, --tls-key and --tls-ca"};
  // The key's mode first, as for the shared secret (read_private_file says how to fix it).
  if (auto key = read_private_file(tls.key, "TLS key file"); !key)
    return key.err();
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_method()), SSL_CTX_free);
  if (!ctx)
    return error{errc::io, "cannot set up TLS: " + openssl_errors()};
  auto bad = [](const std::string& what) {
    return error{errc::invalid_argument, what + ": " + openssl_errors()};
  };
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.certificate.c_str()) != 1)
    return bad("cannot read the TLS certificate " + tls.certificate + " (PEM)");
  SSL_CTX_set_default_passwd_cb(ctx.get(), no_passphrase);
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return bad("the TLS key " + tls.key + " is not the key of the certificate "
                 + tls.certificate);
    return bad("cannot read the TLS key " + tls.key + " (PEM, not encrypted)");
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return bad("the TLS key " + tls.key + " is not the key of the certificate "
               + tls.certificate);
  if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1)
    return bad("cannot read the CA certificate(s) " + tls.ca + " (PEM)");
  // The peers check this process's certificate against the same CA: check it here first,
  // so a wrong file is found at start and not as refused connections later.
  X509* own = SSL_CTX_get0_certificate(ctx.get());
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx.get(), &chain);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> verify(X509_STORE_CTX_new(),
                                                                         X509_STORE_CTX_free);
  if (!verify || !own
      || X509_STORE_CTX_init(verify.get(), SSL_CTX_get_cert_store(ctx.get()), own, chain) != 1)
    return bad("cannot check the TLS certificate " + tls.certificate);
  if (X509_verify_cert(verify.get()) != 1)
    return error{errc::invalid_argument,
                 "the TLS certificate " + tls.certificate + " is not signed by the CA in "
                   + tls.ca + ": "
                   + X509_verify_cert_error_string(X509_STORE_CTX_get_error(verify.get()))};
  return {};
}

}  // namespace recflow
