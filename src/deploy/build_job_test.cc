// A project's build with real parts: a real git repository and checkout, a
// real shell build in the workspace, real releases on disk. What `clean`
// does to the workspace between builds.
#include "deploy/build_job.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "base/strings.h"
#include "testing/testing.h"

namespace anthill::deploy {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clean = config::Project::Clean;

class NoSteps : public StepSink {
 public:
  int64_t Started(int64_t, store::StepName) override { return 1; }
  void Ended(int64_t, store::StepStatus, std::string_view) override {}
};

class BuildJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Sh(dir_.path(),
                "git init -q -b main origin && cd origin && git config user.email t@t && "
                "git config user.name t && echo one > f && git add f && git commit -qm one");
    commit_ = std::string(Trim(testing::Sh(dir_ / "origin", "git rev-parse HEAD")));
  }
  void TearDown() override { testing::KillProcessesUnder(dir_.path()); }

  // Builds the head once with `clean`; the build says whether it found the
  // file the build before it left (untracked: `git clean -ffdx` removes
  // it), and fails when `fail` is true. Returns the build's log.
  std::string Build(Clean clean, bool fail, bool* ok = nullptr) {
    BuildSpec spec{"hello",
                   (dir_ / "origin").string(),
                   "if [ -e built-before ]; then echo FOUND-LAST-OUTPUT; else echo FRESH; fi; "
                   "touch built-before; test \"$FAIL\" != yes",
                   "",
                   {},
                   Duration(60000),
                   dir_ / "projects" / "hello"};
    spec.clean = clean;
    release::Releases releases(spec.project_dir);
    git::Git git(dir_ / "scratch");
    NoSteps steps;
    BuildJob job(&git, &releases, &steps, spec);
    BuildTarget t;
    t.deployment_id = ++builds_;
    t.candidate = {"refs/heads/main", commit_, "main-" + commit_.substr(0, 8)};
    t.env = {"PATH=/usr/bin:/bin", std::string("FAIL=") + (fail ? "yes" : "no")};
    t.log = dir_ / ("build-" + std::to_string(builds_) + ".log");
    t.log_shown = t.log.string();
    BuildControls c;
    c.stopper = std::make_shared<build::CommandStopper>();
    c.stopped = [] { return false; };
    c.stopped_as = [] { return store::StepStatus::kCancelled; };
    c.disk_full_hint = [] { return std::string(); };
    asio::io_context io;
    std::optional<Result<std::string>> made;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          asio::awaitable<Result<std::string>> running = job.Run(t, c);
          made.emplace(co_await std::move(running));
        },
        asio::detached);
    io.run();
    EXPECT_TRUE(made.has_value());
    if (!made) return "";
    if (ok) *ok = made->ok();
    return testing::ReadFile(t.log);
  }

  testing::TempDir dir_;
  std::string commit_;
  int builds_ = 0;
};

constexpr const char* kCleaning = "cleaning the workspace (git clean -ffdx) for a fresh build";

TEST_F(BuildJobTest, NeverKeepsTheLastBuildsOutputAndAlwaysRemovesIt) {
  EXPECT_NE(Build(Clean::kNever, false).find("FRESH"), std::string::npos);
  std::string log = Build(Clean::kNever, false);
  EXPECT_NE(log.find("FOUND-LAST-OUTPUT"), std::string::npos) << log;
  EXPECT_EQ(log.find(kCleaning), std::string::npos) << log;

  log = Build(Clean::kAlways, false);
  EXPECT_NE(log.find("anthill: clean = \"always\"; " + std::string(kCleaning)), std::string::npos)
      << log;
  EXPECT_NE(log.find("FRESH"), std::string::npos) << log;
  log = Build(Clean::kAlways, false);
  EXPECT_NE(log.find("FRESH"), std::string::npos) << log;
}

TEST_F(BuildJobTest, OnFailureCleansOnlyAfterABuildThatFailed) {
  bool ok = false;
  Build(Clean::kOnFailure, false, &ok);
  EXPECT_TRUE(ok);
  std::string log = Build(Clean::kOnFailure, false, &ok);
  EXPECT_NE(log.find("FOUND-LAST-OUTPUT"), std::string::npos) << log;  // a pass keeps it
  log = Build(Clean::kOnFailure, true, &ok);
  EXPECT_FALSE(ok);
  EXPECT_NE(log.find("FOUND-LAST-OUTPUT"), std::string::npos) << log;
  log = Build(Clean::kOnFailure, false, &ok);
  EXPECT_TRUE(ok);
  EXPECT_NE(log.find("anthill: the previous build or test failed (clean = \"on-failure\"); " +
                     std::string(kCleaning)),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("FRESH"), std::string::npos) << log;
  // Passed since: the next build is incremental again.
  log = Build(Clean::kOnFailure, false, &ok);
  EXPECT_NE(log.find("FOUND-LAST-OUTPUT"), std::string::npos) << log;
  EXPECT_EQ(log.find(kCleaning), std::string::npos) << log;
}

}  // namespace
}  // namespace anthill::deploy
