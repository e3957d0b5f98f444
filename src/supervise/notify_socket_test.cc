#include "supervise/notify_socket.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstring>

#include "base/event.h"
#include "os/process.h"
#include "testing/testing.h"

namespace anthill::supervise {
namespace {

TEST(NotifySocket, ReadyOnlyAfterAReadyLineFromAnotherProcess) {
  testing::TempDir dir;
  boost::asio::io_context io;
  auto sock = NotifySocket::Open(io.get_executor(), dir / "run/hello.notify");
  ASSERT_TRUE(sock.ok()) << sock.error();
  // A real sender: the sample program's way of sd_notify, from a child process
  // (python3 is in the project's dependencies).
  std::string path = (*sock)->path().string();
  auto send = [&](const std::string& message) {
    std::string script =
        "import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
        "s.sendto(" +
        std::string("b'") + message + "', '" + path + "')";
    auto out = os::RunSync({"python3", "-c", script});
    ASSERT_TRUE(out.ok() && out->status.success()) << (out.ok() ? out->output : out.error());
  };
  bool ready_after_status = true;
  bool ready_at_end = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        send("STATUS=warming up");
        // Waits on the condition (the message was read), with a deadline.
        for (int i = 0; i < 2000 && (*sock)->messages() < 1; ++i) co_await SleepFor(Duration(5));
        ready_after_status = (*sock)->messages() != 1 || (*sock)->ready();
        send("STATUS=serving\\nREADY=1");
        for (int i = 0; i < 2000 && !(*sock)->ready(); ++i) co_await SleepFor(Duration(5));
        ready_at_end = (*sock)->ready();
        sock->reset();  // closes the socket: its pending read ends, and so does io.run()
      },
      boost::asio::detached);
  io.run();
  EXPECT_FALSE(ready_after_status);
  EXPECT_TRUE(ready_at_end);
  EXPECT_FALSE(std::filesystem::exists(path)) << "the socket file is removed with it";
}

}  // namespace
}  // namespace anthill::supervise
