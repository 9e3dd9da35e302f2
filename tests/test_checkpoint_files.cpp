// Model and checkpoint files against another user of the folder: temporary files under
// names no one can predict, created without following a planted link; one writer per
// checkpoint folder (a lock file naming its pid); cleanup that removes only the debris of
// this process or of writers that no longer run.
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>

#include "recflow/graph/checkpoint.hpp"
#include "recflow/model/model_io.hpp"
#include "recflow/model/temp_file.hpp"
#include "tests/cli_test_util.hpp"

using namespace recflow;
using recflow::test::scratch_dir;
namespace fs = std::filesystem;

namespace {

factor_model tiny(double mu) {
  factor_model m(2, {1.0, 5.0});
  m.add_user(7, 1, 0.1);
  m.add_item(9, 1, 0.1);
  m.set_mu(mu, 10);
  return m;
}

/// The pid of a child that has exited and been reaped: no process runs under it.
pid_t dead_pid() {
  pid_t p = ::fork();
  if (p == 0)
    ::_exit(0);
  REQUIRE(p > 0);
  ::waitpid(p, nullptr, 0);
  return p;
}

}  // namespace

TEST_CASE("model files: temporary names are unpredictable, a link planted at one is not followed",
          "[checkpoint]") {
  scratch_dir dir;
  auto path = dir.file("m.rfm");
  std::set<std::string> names;
  for (int k = 0; k < 200; ++k)
    names.insert(unpredictable_temp_name(path));
  CHECK(names.size() == 200);  // 64 random bits each: no two alike
  auto one = *names.begin();
  auto prefix = path + ".tmp." + std::to_string(::getpid()) + ".";
  REQUIRE(one.rfind(prefix, 0) == 0);
  CHECK(one.size() == prefix.size() + 16);
  CHECK(temp_name_pid(one.substr(path.size() + 5)) == ::getpid());

  // A link (to a file of the victim's, or dangling) at the path: refused, not followed.
  auto victim = dir.file("victim");
  std::ofstream(victim) << "precious";
  auto planted = dir.file("planted");
  fs::create_symlink(victim, planted);
  errno = 0;
  CHECK(create_new_file(planted) == -1);
  CHECK(errno == EEXIST);
  auto dangling = dir.file("dangling");
  fs::create_symlink(dir.file("would-be-created"), dangling);
  CHECK(create_new_file(dangling) == -1);
  CHECK_FALSE(fs::exists(dir.file("would-be-created")));
  CHECK(test::file_text(victim) == "precious");

  // The name save_model used to use (PATH.tmp.PID), planted as a link: the save neither
  // follows nor removes it.
  auto old_name = path + ".tmp." + std::to_string(::getpid());
  fs::create_symlink(victim, old_name);
  REQUIRE(save_model(tiny(3.0), path));
  CHECK(test::file_text(victim) == "precious");
  CHECK(fs::is_symlink(old_name));
  model_metadata meta;
  CHECK(load_model(path, meta));
  // Nothing of the save is left besides the model.
  std::size_t temps = 0;
  for (const auto& e : fs::directory_iterator(dir.path))
    temps += e.path().filename().string().find(".tmp." + std::to_string(::getpid()) + ".") != std::string::npos;
  CHECK(temps == 0);
}

TEST_CASE("checkpoints: a second writer of a folder is refused with the folder and the holder's pid",
          "[checkpoint]") {
  scratch_dir dir;
  auto folder = dir.file("ckpt");
  auto first = std::make_optional(checkpoint_lock::acquire(folder));
  REQUIRE(*first);
  auto second = checkpoint_lock::acquire(folder);
  REQUIRE_FALSE(second);
  CHECK_THAT(second.err().message, Catch::Contains(folder));
  CHECK_THAT(second.err().message, Catch::Contains("pid " + std::to_string(::getpid())));
  // Another process too.
  pid_t child = ::fork();
  if (child == 0)
    ::_exit(checkpoint_lock::acquire(folder) ? 0 : 3);
  REQUIRE(child > 0);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  // A stream with checkpoints into the held folder stops before it starts.
  auto data = std::string(RECFLOW_DEFAULT_DATA) + "/ml-100k/u1.base";
  if (fs::exists(data)) {
    auto run = test::run_cli("stream --source file:" + data + " --checkpoint-dir " + folder
                             + " --max-batches 2 --no-csv -q");
    CHECK(run.status == 1);
    CHECK_THAT(run.out, Catch::Contains("checkpoint folder " + folder + " is in use"));
    CHECK(list_checkpoints(folder).empty());
  }
  // Released: the next writer gets it.
  first.reset();
  CHECK(checkpoint_lock::acquire(folder));
}

TEST_CASE("checkpoints: cleanup removes the temporary files of dead writers only", "[checkpoint]") {
  scratch_dir dir;
  checkpoint_options o{.dir = dir.file("ckpt"), .every = 1, .keep = 2};
  fs::create_directories(o.dir);
  auto dead = o.dir + "/ckpt-000000000004.rfm.tmp." + std::to_string(dead_pid()) + ".0123456789abcdef";
  auto live = o.dir + "/ckpt-000000000004.rfm.tmp." + std::to_string(::getppid()) + ".0123456789abcdef";
  auto other = o.dir + "/notes.tmp.1";
  for (const auto& f : {dead, live, other})
    std::ofstream(f) << "x";
  REQUIRE(write_checkpoint(o, tiny(3.0), {5, 50, ""}));
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));  // a running process's: not ours to remove
  CHECK(fs::exists(other));
}
