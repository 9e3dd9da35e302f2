/// Files created where nobody else can have put one first: a temporary name no one can
/// predict (`PATH.tmp.<pid>.<16 random hex digits>`, from the kernel's random source) and
/// an open that fails instead of following a link or reusing a file already there
/// (O_CREAT | O_EXCL | O_NOFOLLOW). save_model writes through them, so a link planted at a
/// temporary path cannot redirect a model or checkpoint write.
#pragma once

#include <string>

namespace recflow {

/// `path` + ".tmp.<pid>.<16 hex digits>", the digits from getrandom(2).
std::string unpredictable_temp_name(const std::string& path);

/// Creates `path` for writing (mode 0644), only if nothing (not even a dangling link) is
/// there; returns the descriptor, or -1 with errno set (EEXIST when something is).
int create_new_file(const std::string& path) noexcept;

/// The process id in a temporary name made by unpredictable_temp_name (or the older
/// `PATH.tmp.<pid>`), given the part after ".tmp."; 0 when it holds none.
long temp_name_pid(const std::string& after_tmp) noexcept;

}  // namespace recflow
