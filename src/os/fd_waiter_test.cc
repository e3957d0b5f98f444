// Waiting on a socket the test owns: the waiter wakes on readiness, never
// closes the fd, and ends a pending wait on Cancel or when it goes.
#include "os/fd_waiter.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>

namespace anthill::os {
namespace {

namespace asio = boost::asio;

// A connected pair of Unix stream sockets, closed by the test (not the waiter).
struct SocketPair {
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  int fds[2] = {-1, -1};
};

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(FdWaiter, ReadableOnlyOnceThePeerWrites) {
  SocketPair pair;
  asio::io_context io;
  std::optional<Status> woke;
  {
    FdWaiter waiter(io.get_executor(), pair.fds[0]);
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { woke = co_await waiter.WaitReadable(); },
        asio::detached);
    io.poll();  // everything ready has run: the wait is parked on the socket
    ASSERT_FALSE(woke.has_value());
    ASSERT_EQ(write(pair.fds[1], "x", 1), 1);
    io.run();
    ASSERT_TRUE(woke.has_value());
    EXPECT_TRUE(woke->ok()) << woke->message();
  }
  // The waiter is gone and the fd is still the test's, open and readable.
  ASSERT_TRUE(IsOpen(pair.fds[0]));
  char c = 0;
  EXPECT_EQ(read(pair.fds[0], &c, 1), 1);
  EXPECT_EQ(c, 'x');
}

TEST(FdWaiter, CompletesAtOnceWhenAlreadyReadyAndWakesOnHangUp) {
  SocketPair pair;
  ASSERT_EQ(write(pair.fds[1], "y", 1), 1);
  asio::io_context io;
  FdWaiter waiter(io.get_executor(), pair.fds[0]);
  int readable = 0;
  int writable = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto w = co_await waiter.WaitWritable();  // a fresh socket has room
        if (w.ok()) ++writable;
        auto r = co_await waiter.WaitReadable();  // 'y' was written before the wait
        if (r.ok()) ++readable;
        char c = 0;
        EXPECT_EQ(read(pair.fds[0], &c, 1), 1);
        close(pair.fds[1]);  // the peer hangs up: a reader must find out
        pair.fds[1] = -1;
        auto hup = co_await waiter.WaitReadable();
        if (hup.ok()) ++readable;
      },
      asio::detached);
  io.run();
  EXPECT_EQ(writable, 1);
  EXPECT_EQ(readable, 2);
  char c = 0;
  EXPECT_EQ(read(pair.fds[0], &c, 1), 0);  // end of stream, seen by the owner
}

TEST(FdWaiter, CancelAndDestructionEndPendingWaitsWithoutClosingTheFd) {
  SocketPair pair;
  asio::io_context io;
  std::optional<Status> cancelled;
  std::optional<Status> released;
  FdWaiter waiter(io.get_executor(), pair.fds[0]);
  auto doomed = std::make_unique<FdWaiter>(io.get_executor(), pair.fds[1]);
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { cancelled = co_await waiter.WaitReadable(); },
      asio::detached);
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { released = co_await doomed->WaitReadable(); },
      asio::detached);
  io.poll();
  ASSERT_FALSE(cancelled.has_value());
  ASSERT_FALSE(released.has_value());
  waiter.Cancel();
  doomed.reset();
  io.run();
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->code(), StatusCode::kCancelled);
  EXPECT_EQ(cancelled->message(), "wait on fd " + std::to_string(pair.fds[0]) + " cancelled");
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->code(), StatusCode::kCancelled);
  EXPECT_TRUE(IsOpen(pair.fds[0]));
  EXPECT_TRUE(IsOpen(pair.fds[1]));
  // Still a working pair: the waiters never touched the data.
  ASSERT_EQ(write(pair.fds[1], "z", 1), 1);
  char c = 0;
  EXPECT_EQ(read(pair.fds[0], &c, 1), 1);
}

TEST(FdWaiter, AFdThatCannotBeWatchedFailsEveryWaitNamingIt) {
  asio::io_context io;  // first: its own fds must not take the number closed below
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  close(fds[1]);  // now a number with no file behind it
  FdWaiter waiter(io.get_executor(), fds[0]);
  std::optional<Status> got;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { got = co_await waiter.WaitReadable(); }, asio::detached);
  io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->code(), StatusCode::kInternal);
  EXPECT_EQ(got->message().rfind("cannot watch fd " + std::to_string(fds[0]) + ": ", 0), 0u)
      << got->message();
}

}  // namespace
}  // namespace anthill::os
