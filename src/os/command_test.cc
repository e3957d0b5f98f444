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
  EXPECT_FALSE(std::filesystem::exists(dir / "ran"));
}

}  // namespace
}  // namespace anthill::os
