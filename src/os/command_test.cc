#include "os/command.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "base/event.h"
#include "testing/testing.h"

namespace anthill::os {
namespace {

namespace asio = boost::asio;

SpawnOptions Sh(const std::string& script, const testing::TempDir& dir) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.env = {"PATH=/usr/bin:/bin"};
  o.output = dir / "out.log";
  o.cwd = dir.path();
  return o;
}

TEST(RunCommand, AStopperEndsEvenACommandThatIgnoresSigterm) {
  // A cancelled build that ignores SIGTERM (the whole group does) must still
  // end: SIGKILL follows after the grace.
  testing::TempDir dir;
  asio::io_context io;
  auto stopper = std::make_shared<CommandStopper>();
  Result<CommandResult> out = Status::Error("did not run");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        out = co_await RunCommand(
            Sh("trap '' TERM; touch started; while :; do sleep 0.05; done", dir), Duration(0),
            Duration(200), stopper);
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Stop once the command is surely running (it has made its file).
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!std::filesystem::exists(dir / "started") &&
               std::chrono::steady_clock::now() < deadline) {
          co_await SleepFor(Duration(10));
        }
        stopper->Stop();
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(out.ok()) << out.error();
  EXPECT_TRUE(out->stopped);
  EXPECT_FALSE(out->timed_out) << "stopped, not timed out";
  EXPECT_TRUE(out->status.signaled);
  EXPECT_EQ(out->status.signal, SIGKILL);
  EXPECT_EQ(out->Describe(), "stopped");
  EXPECT_EQ(out->code(), StatusCode::kCancelled);
}

TEST(RunCommand, AStopperBeforeTheStartRunsNothing) {
  testing::TempDir dir;
  asio::io_context io;
  auto stopper = std::make_shared<CommandStopper>();
  stopper->Stop();
  Result<CommandResult> out = Status::Error("did not run");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        out = co_await RunCommand(Sh("touch ran", dir), Duration(0), Duration(200), stopper);
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->stopped);
  EXPECT_EQ(out->code(), StatusCode::kCancelled);
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
}

// The kind of each end, which build/ and git/ pass on so that no caller reads
// "timed out" back out of a message.
TEST(RunCommand, EachEndHasItsKind) {
  testing::TempDir dir;
  const struct {
    const char* script;
    Duration timeout;
    StatusCode code;
  } cases[] = {
      {"exit 0", Duration(0), StatusCode::kOk},
      {"exit 2", Duration(0), StatusCode::kInternal},
      {"kill -KILL $$", Duration(0), StatusCode::kInternal},
      {"sleep 30", Duration(100), StatusCode::kTimedOut},
  };
  for (const auto& c : cases) {
    asio::io_context io;
    Result<CommandResult> out = Status::Error("did not run");
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const SpawnOptions options = Sh(c.script, dir);
          const Duration grace(200);
          out = co_await RunCommand(options, c.timeout, grace);
        },
        asio::detached);
    io.run();
    ASSERT_TRUE(out.ok()) << c.script << ": " << out.error();
    EXPECT_EQ(out->code(), c.code) << c.script << ": " << out->Describe();
  }
}

}  // namespace
}  // namespace anthill::os
