#include "artifact/blocking.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "base/status.h"
#include "testing/testing.h"

namespace anthill::artifact {
namespace {

namespace asio = boost::asio;

TEST(RunBlocking, RunsOnAPoolThreadAndResumesOnTheCallersThread) {
  asio::io_context io;
  const std::thread::id test_thread = std::this_thread::get_id();
  std::thread::id job_thread;
  std::thread::id resumed_thread;
  std::optional<std::string> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto job = [&job_thread] {
          job_thread = std::this_thread::get_id();
          return std::string("done on the pool");
        };
        asio::awaitable<std::string> done = RunBlocking(std::move(job));
        out = co_await std::move(done);
        resumed_thread = std::this_thread::get_id();
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, "done on the pool");
  EXPECT_NE(job_thread, test_thread) << "the blocking work ran on the io_context thread";
  EXPECT_EQ(resumed_thread, test_thread) << "the coroutine resumed off its executor";
}

TEST(RunBlocking, TheCallersIoContextWaitsForTheJob) {
  // The job is still blocked when the io_context has nothing else queued:
  // run() must wait for it rather than return with the coroutine suspended.
  asio::io_context io;
  std::promise<void> go;
  std::shared_future<void> released = go.get_future().share();
  std::optional<Result<int>> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto job = [released]() -> Result<int> {
          released.wait();
          return 42;
        };
        asio::awaitable<Result<int>> done = RunBlocking(std::move(job));
        out.emplace(co_await std::move(done));
      },
      asio::detached);
  asio::post(io, [&go] { go.set_value(); });
  io.run();
  ASSERT_TRUE(out.has_value()) << "io_context::run returned before the job ended";
  ASSERT_TRUE(out->ok());
  EXPECT_EQ(**out, 42);
}

TEST(RunBlocking, TwoJobsRunAtOnce) {
  // One transfer must not wait for another: each job waits (with a
  // deadline) until both have started, which a single thread could not do.
  asio::io_context io;
  std::atomic<int> started{0};
  int both = 0;
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto job = [&started] {
            ++started;
            return testing::WaitUntil([&] { return started.load() == 2; }, std::chrono::seconds(20),
                                      std::chrono::milliseconds(1));
          };
          asio::awaitable<bool> done = RunBlocking(std::move(job));
          if (co_await std::move(done)) ++both;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(both, 2);
}

}  // namespace
}  // namespace anthill::artifact
