/// Files that hold a secret (a node-link secret, a Redis password): read only when they
/// are regular files that neither group nor others may read or write, as ssh asks of a
/// private key. The mode is checked on the descriptor that is read, so the file cannot
/// be swapped between the check and the read.
///
///   auto text = read_private_file("/etc/recflow/secret", "secret file");
///   // error: "the secret file /etc/recflow/secret has mode 0644: group or others may
///   //         read or write it; chmod 600 /etc/recflow/secret"
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "recflow/model/error.hpp"

namespace recflow {

/// The largest private file read (a secret is a line or two).
inline constexpr std::size_t max_private_file_bytes = 65536;

/// The whole content of `path`; `what` names the file in errors ("the WHAT PATH ...").
result<std::string> read_private_file(const std::string& path, std::string_view what);

/// `s` without the spaces, tabs and line ends around it: how a secret, a password line or
/// a token is taken from its file (and an HTTP header value from its line).
std::string_view trim_blanks(std::string_view s) noexcept;

}  // namespace recflow
