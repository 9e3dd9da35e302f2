/// The node-link options, defined once: `--secret-file`, `--tls-cert`, `--tls-key`,
/// `--tls-ca` and `--insecure` of `recflow node`
/// and of every command that takes `--nodes` (`recflow batch`, `recflow stream`), and
/// `--nodes host:port,...` itself: the `recflow node` processes that hold the owners or
/// blocks.
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "recflow/engine/cluster_engine.hpp"
#include "recflow/engine/link_secret.hpp"

namespace recflow::cli {

/// How node links are secured: a shared secret from a file, mutual TLS, both, or plain
/// text by name.
struct link_options {
  std::string secret_file;  ///< the shared secret's file (mode 0600 or stricter)
  link_tls tls;             ///< --tls-cert, --tls-key, --tls-ca: all three or none
  bool insecure = false;    ///< no secret, no TLS: plain unauthenticated links, with a warning

  void add(CLI::App& cmd) {
    cmd.add_option("--secret-file", secret_file,
                   "Node links: a file (readable by its owner only) holding the shared secret "
                   "that every driver and node proves (HMAC-SHA256 challenge) before anything "
                   "else; the same file on every node and driver");
    cmd.add_option("--tls-cert", tls.certificate,
                   "Node links over mutual TLS: this process's certificate chain (PEM), signed "
                   "by the --tls-ca; every node and driver of a job needs one (see "
                   "tools/tls-certs.sh)");
    cmd.add_option("--tls-key", tls.key,
                   "Node links over TLS: the private key of --tls-cert (PEM, unencrypted, a "
                   "file only its owner can read)");
    cmd.add_option("--tls-ca", tls.ca,
                   "Node links over TLS: the CA certificate that signed every node's and "
                   "driver's certificate; peers without one are refused in the TLS handshake");
    cmd.add_flag("--insecure", insecure,
                 "Node links without the shared secret or TLS: anyone who reaches a node's "
                 "port can deploy jobs on it and stop them (a warning is written on stderr)");
  }

  /// The secret read from --secret-file, or "" with TLS alone or --insecure; an error
  /// naming the file, or when none or --insecure with another is given, or when the TLS
  /// files are incomplete or do not fit (check_link_tls).
  result<std::string> secret() const {
    std::string s;
    if (!secret_file.empty()) {
      auto read = read_secret_file(secret_file);
      if (!read)
        return read.err();
      s = std::move(*read);
    }
    if (auto ok = check_link_security(s, insecure, tls); !ok)
      return ok.err();
    return s;
  }
};

/// The nodes of `--nodes`, the secret the driver proves to them and its TLS files.
struct node_links {
  std::vector<node_endpoint> nodes;
  std::string secret;  ///< empty with TLS alone or --insecure
  link_tls tls;        ///< empty without TLS
};

/// The endpoints of `list`, given with `--engine engine`, and the links' secret: the nodes
/// run the actor graph, so any other engine is refused, as is an address without a valid
/// port, and a list without --secret-file, TLS or --insecure. With --insecure, writes the
/// warning on stderr (a node writes its own through its log).
inline result<node_links> nodes_option(const std::string& list, const std::string& engine,
                                       const link_options& link) {
  if (engine != "local")
    return error{errc::invalid_argument, "--nodes runs the actor graph: it needs --engine local"};
  auto nodes = parse_endpoints(list);
  if (!nodes)
    return nodes.err();
  auto secret = link.secret();
  if (!secret)
    return error{secret.err().code, "--nodes: " + secret.err().message};
  if (link.insecure)
    std::cerr << "recflow: " << insecure_warning << std::endl;
  return node_links{std::move(*nodes), std::move(*secret), link.tls};
}

}  // namespace recflow::cli
