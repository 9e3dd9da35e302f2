// stream --serve --publish-interval / --training-nice: accepted in range (the run completes
// as usual), refused with exit code 2 outside it; --training-nice takes "idle" too.
#include <catch2/catch.hpp>

#include <string>

#include "tests/cli_test_util.hpp"
#include "test_util.hpp"

TEST_CASE("serve cli: --publish-interval and --training-nice", "[serve][cli]") {
  auto data = recflow::test::data_dir() + "/ml-100k/u.data";
  auto base = "stream --data " + data + " --split 0.8 --rank 10 --batch-size 2000 --no-csv -q --json "
              "--serve 127.0.0.1:0 --serve-linger 0";
  auto interval = GENERATE(as<std::string>{}, "0", "100", "3600000");
  INFO("--publish-interval " << interval);
  auto r = recflow::test::run_cli(base + " --publish-interval " + interval + " --training-nice 5");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.last_line.find("\"batches\":40") != std::string::npos);
  CHECK(recflow::test::run_cli(base + " --publish-interval -1").status == 2);
  CHECK(recflow::test::run_cli(base + " --training-nice 20").status == 2);
  CHECK(recflow::test::run_cli(base + " --training-nice -1").status == 2);
  CHECK(recflow::test::run_cli(base + " --training-nice 5x").status == 2);
  auto bad = recflow::test::run_cli(base + " --training-nice fast");
  CHECK(bad.status == 2);
  CHECK(bad.out.find("'idle' or a nice value in 0..19") != std::string::npos);
}

TEST_CASE("serve cli: --training-nice idle (the default) trains under SCHED_IDLE and completes",
          "[serve][cli]") {
  auto data = recflow::test::data_dir() + "/ml-100k/u.data";
  auto r = recflow::test::run_cli("stream --data " + data + " --split 0.8 --rank 10 --batch-size 2000 "
                                  "--no-csv -q --json --serve 127.0.0.1:0 --serve-linger 0 "
                                  "--training-nice idle");
  INFO(r.out);
  CHECK(r.status == 0);
  CHECK(r.last_line.find("\"batches\":40") != std::string::npos);
}
