#include "build/step_runner.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "build/environment.h"
#include "os/process.h"
#include "testing/testing.h"

namespace anthill::build {
namespace {

Status RunStep(const ShellStep& step, std::shared_ptr<os::CommandStopper> stopper = nullptr) {
  boost::asio::io_context io;
  Status out = Status::Error("did not run");
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        const std::string shown = "the.log";
        out = co_await RunShellStep(step, shown, stopper);
      },
      boost::asio::detached);
  io.run();
  return out;
}

class StepRunnerTest : public ::testing::Test {
 protected:
  ShellStep Step(const std::string& command, Duration timeout = Duration(0)) {
    return ShellStep{"build",      command, dir_.path(), os::CurrentEnvironment(),
                     dir_ / "log", timeout};
  }
  testing::TempDir dir_;
};

TEST_F(StepRunnerTest, SucceedsInTheWorkspaceAndLogsTheOutput) {
  Status s = RunStep(Step("echo built > out.txt; echo to-the-log"));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(testing::ReadFile(dir_ / "out.txt"), "built\n");
  std::string log = testing::ReadFile(dir_ / "log");
  EXPECT_NE(log.find("==> build: echo built"), std::string::npos) << log;
  EXPECT_NE(log.find("to-the-log\n"), std::string::npos) << log;
  EXPECT_NE(log.find("==> build: exit 0 after"), std::string::npos) << log;
}

TEST_F(StepRunnerTest, FailureNamesTheExitCodeAndTheLog) {
  Status s = RunStep(Step("echo oops >&2; exit 2"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message().rfind("build failed (exit 2) after ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("; see the.log"), std::string::npos) << s.message();
  EXPECT_NE(testing::ReadFile(dir_ / "log").find("oops"), std::string::npos);
}

TEST_F(StepRunnerTest, TimeoutEndsTheWholeProcessGroup) {
  // The grandchild writes its pid, then everything hangs; the timeout must
  // end the grandchild too, not just the shell.
  Status s = RunStep(Step("sleep 300 & echo $! > grandchild.pid; wait", Duration(300)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kTimedOut);
  EXPECT_EQ(s.message().rfind("build timed out after ", 0), 0u) << s.message();
  std::string pid = testing::ReadFile(dir_ / "grandchild.pid");
  ASSERT_FALSE(pid.empty());
  pid.pop_back();
  EXPECT_TRUE(testing::WaitUntil([&] {
    std::string stat = testing::ReadFile("/proc/" + pid + "/stat");
    return stat.empty() || stat.find(") Z") != std::string::npos;
  }));
}

TEST_F(StepRunnerTest, AStoppedStepSaysSo) {
  auto stopper = std::make_shared<os::CommandStopper>();
  stopper->Stop();
  Status s = RunStep(Step("exit 0"), stopper);
  EXPECT_EQ(s.code(), StatusCode::kCancelled);
  EXPECT_EQ(s.message().rfind("build stopped after ", 0), 0u) << s.message();
}

TEST_F(StepRunnerTest, AStepThatCannotStartSaysWhy) {
  ShellStep step = Step("exit 0");
  step.workspace = dir_ / "gone";
  Status s = RunStep(step);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "build could not start: cannot chdir to " + (dir_ / "gone").string() +
                             ": No such file or directory");
  EXPECT_NE(testing::ReadFile(dir_ / "log").find("==> build could not start: cannot chdir"),
            std::string::npos);
}

TEST(ProjectEnvironment, AnthillVariablesDescribeTheDeploymentAndProjectEnvIsAdded) {
  const EnvVars project_env = {{"PORT", "8080"}, {"ANTHILL_VERSION", "forged"}};
  Identity id{"hello", std::string(40, 'a'), "main-aaaaaaaa", "refs/heads/main", "m1", "/r"};
  auto env = ProjectEnvironment({"PATH=/bin", "ANTHILL_TOKEN=secret"}, project_env, id);
  auto has = [&](const std::string& kv) {
    return std::find(env.begin(), env.end(), kv) != env.end();
  };
  EXPECT_TRUE(has("PATH=/bin"));
  EXPECT_TRUE(has("PORT=8080"));
  EXPECT_TRUE(has("ANTHILL_PROJECT=hello"));
  EXPECT_TRUE(has("ANTHILL_COMMIT=" + std::string(40, 'a')));
  EXPECT_TRUE(has("ANTHILL_VERSION=main-aaaaaaaa"));
  EXPECT_TRUE(has("ANTHILL_REF=refs/heads/main"));
  EXPECT_TRUE(has("ANTHILL_MACHINE=m1"));
  EXPECT_TRUE(has("ANTHILL_RELEASE_DIR=/r"));
  EXPECT_FALSE(has("ANTHILL_TOKEN=secret"));
}

}  // namespace
}  // namespace anthill::build
