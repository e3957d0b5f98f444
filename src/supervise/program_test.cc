#include "supervise/program.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "os/process.h"
#include "supervise/health.h"
#include "testing/testing.h"

namespace anthill::supervise {
namespace {

namespace asio = boost::asio;

TEST(RunArgv, PlainCommandsAreSplitShellSyntaxGetsAShell) {
  EXPECT_EQ(RunArgv("./hello --port 8080"),
            (std::vector<std::string>{"./hello", "--port", "8080"}));
  EXPECT_EQ(RunArgv("./hello --port $PORT"),
            (std::vector<std::string>{"/bin/sh", "-c", "exec ./hello --port $PORT"}));
  EXPECT_EQ(RunArgv("a | b"), (std::vector<std::string>{"/bin/sh", "-c", "a | b"}));
  EXPECT_EQ(RunArgv("trap '' TERM; x"),
            (std::vector<std::string>{"/bin/sh", "-c", "trap '' TERM; x"}));
}

// Issue 11, item 3: `exec node dist/app.js` became "exec exec node ..." under
// the shell (exit 127) or ran a program named "exec".
TEST(RunArgv, ALeadingExecIsWhatASingleCommandGetsAnyway) {
  EXPECT_EQ(RunArgv("exec node dist/app.js"), (std::vector<std::string>{"node", "dist/app.js"}));
  EXPECT_EQ(RunArgv("  exec ./hello --port $PORT"),
            (std::vector<std::string>{"/bin/sh", "-c", "exec ./hello --port $PORT"}));
  EXPECT_EQ(RunArgv("exec a; b"), (std::vector<std::string>{"/bin/sh", "-c", "exec a; b"}));
  EXPECT_EQ(RunArgv("executor --x"), (std::vector<std::string>{"executor", "--x"}));
}

class ProgramTest : public ::testing::Test {
 protected:
  void TearDown() override { testing::KillProcessesUnder(dir_.path()); }

  // Runs body as a coroutine on io_ until it finishes.
  void Run(std::function<asio::awaitable<void>()> body) {
    bool finished = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          co_await body();
          finished = true;
          io_.stop();
        },
        asio::detached);
    io_.run();
    io_.restart();
    ASSERT_TRUE(finished);
  }
  StartSpec Spec(const std::string& run) {
    return StartSpec{run, dir_.path(), os::CurrentEnvironment(), dir_ / "app.log"};
  }

  testing::TempDir dir_;
  asio::io_context io_;
};

TEST_F(ProgramTest, StartsInItsOwnSessionAndStopsGracefully) {
  Run([&]() -> asio::awaitable<void> {
    auto p = Program::Start(io_.get_executor(), Spec("sleep 300"));
    EXPECT_TRUE(p.ok()) << p.error();
    if (!p.ok()) co_return;
    pid_t pid = (*p)->pid();
    EXPECT_EQ(getsid(pid), pid);
    EXPECT_EQ(getpgid(pid), pid);
    StopOutcome out = co_await (*p)->Stop(SIGTERM, Duration(5000));
    EXPECT_FALSE(out.killed);
    EXPECT_EQ(out.status.Describe(), "killed by SIGTERM");
    EXPECT_TRUE((*p)->exited());
  });
}

TEST_F(ProgramTest, IgnoringTheStopSignalEndsInSigkillAfterTheTimeout) {
  Run([&]() -> asio::awaitable<void> {
    auto p = Program::Start(io_.get_executor(),
                            Spec("trap '' TERM; echo ready > ready; while :; do sleep 1; done"));
    EXPECT_TRUE(p.ok()) << p.error();
    if (!p.ok()) co_return;
    // Wait until the trap is set before signalling.
    for (int i = 0; i < 500 && !std::filesystem::exists(dir_ / "ready"); ++i) {
      co_await SleepFor(Duration(10));
    }
    StopOutcome out = co_await (*p)->Stop(SIGTERM, Duration(300));
    EXPECT_TRUE(out.killed);
    EXPECT_GE(out.took.count(), 300);
    EXPECT_EQ(out.Describe().rfind("killed with SIGKILL after ", 0), 0u) << out.Describe();
  });
}

TEST_F(ProgramTest, OutputIsAppendedToTheLogFile) {
  Run([&]() -> asio::awaitable<void> {
    for (const char* word : {"one", "two"}) {
      auto p = Program::Start(io_.get_executor(), Spec(std::string("echo ") + word));
      EXPECT_TRUE(p.ok());
      if (p.ok()) co_await (*p)->WaitExit(Duration(10000));
    }
  });
  EXPECT_EQ(testing::ReadFile(dir_ / "app.log"), "one\ntwo\n");
}

TEST_F(ProgramTest, AdoptRefusesAPidWithAnotherStartTime) {
  Run([&]() -> asio::awaitable<void> {
    auto p = Program::Start(io_.get_executor(), Spec("sleep 300"));
    EXPECT_TRUE(p.ok());
    if (!p.ok()) co_return;
    auto wrong = Program::Adopt(io_.get_executor(), (*p)->pid(), (*p)->start_ticks() + 1);
    EXPECT_FALSE(wrong.ok());
    EXPECT_NE(wrong.error().find("now belongs to another process"), std::string::npos)
        << wrong.error();
    auto right = Program::Adopt(io_.get_executor(), (*p)->pid(), (*p)->start_ticks());
    EXPECT_TRUE(right.ok()) << right.error();
    if (!right.ok()) co_return;
    co_await (*p)->Stop(SIGTERM, Duration(5000));
    // The adopted watcher sees the exit too (without a status: not its child).
    EXPECT_TRUE(co_await (*right)->WaitExit(Duration(5000)));
  });
}

TEST_F(ProgramTest, HealthCheckFailsAtOnceWhenTheProgramExits) {
  Run([&]() -> asio::awaitable<void> {
    auto p = Program::Start(io_.get_executor(), Spec("sh -c 'exit 3'"));
    EXPECT_TRUE(p.ok());
    if (!p.ok()) co_return;
    config::HealthCheck check;
    check.kind = config::HealthCheck::Kind::kTcp;
    check.target = "127.0.0.1:" + std::to_string(testing::FreePort());
    check.timeout = Duration(60000);
    const HealthContext none;
    Status s = co_await WaitHealthy(**p, check, none);
    EXPECT_EQ(s.message(), "exited during health check (exit 3)");
  });
}

TEST_F(ProgramTest, CommandHealthCheckPassesWhenTheCommandSucceeds) {
  Run([&]() -> asio::awaitable<void> {
    auto p = Program::Start(io_.get_executor(), Spec("sleep 300"));
    EXPECT_TRUE(p.ok());
    if (!p.ok()) co_return;
    config::HealthCheck check;
    check.kind = config::HealthCheck::Kind::kCommand;
    check.target = "test -f marker";
    check.timeout = Duration(30000);
    check.interval = Duration(20);
    testing::WriteFile(dir_ / "marker", "");
    const HealthContext ctx{dir_.path(), os::CurrentEnvironment()};
    Status s = co_await WaitHealthy(**p, check, ctx);
    EXPECT_TRUE(s.ok()) << s.message();
    check.target = "exit 1";
    check.timeout = Duration(200);
    s = co_await WaitHealthy(**p, check, ctx);
    EXPECT_EQ(s.message().rfind("health check failed after ", 0), 0u) << s.message();
    EXPECT_NE(s.message().find("command 'exit 1': exit 1"), std::string::npos) << s.message();
    co_await (*p)->Stop(SIGTERM, Duration(5000));
  });
}

}  // namespace
}  // namespace anthill::supervise
