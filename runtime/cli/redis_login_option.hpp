/// The Redis login options, defined once for `recflow stream --source redis://...` and
/// `recflow publish`: an ACL user and a password file, never a password on the command
/// line (see read_redis_credentials).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace recflow::cli {

inline void add_redis_login_options(CLI::App& cmd, std::string& user, std::string& password_file) {
  cmd.add_option("--redis-user", user,
                 "redis://: log in as this ACL user (else the user in --redis-password-file or "
                 "RECFLOW_REDIS_USER)");
  cmd.add_option("--redis-password-file", password_file,
                 "redis://: the password (one line) or the user and the password (two lines), "
                 "in a file readable by its owner only (else RECFLOW_REDIS_PASSWORD); never "
                 "on the command line");
}

}  // namespace recflow::cli
