#include "os/sockets.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include "os/process.h"
#include "testing/testing.h"

namespace anthill::os {
namespace {

TEST(Sockets, BindsTcpAndUnixAndNamesThem) {
  int port = testing::FreePort();
  std::string spec = "tcp://127.0.0.1:" + std::to_string(port);
  auto tcp = BindListener(spec);
  ASSERT_TRUE(tcp.ok()) << tcp.error();
  // SO_REUSEPORT: a second listener on the same port (a restarted Anthill
  // while the program still serves) is allowed.
  auto again = BindListener(spec);
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(ListenerName(spec), "tcp-127.0.0.1-" + std::to_string(port));

  testing::TempDir dir;
  std::string unix_spec = "unix://" + (dir / "app.sock").string();
  auto un = BindListener(unix_spec);
  ASSERT_TRUE(un.ok()) << un.error();
  CloseFd(*un);
  auto stale = BindListener(unix_spec);  // the socket file left behind is replaced
  ASSERT_TRUE(stale.ok()) << stale.error();
  EXPECT_FALSE(BindListener("tcp://127.0.0.1").ok());
  auto bad = BindListener("udp://x:1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("udp://x:1"), std::string::npos);
  for (int fd : {*tcp, *again, *stale}) CloseFd(fd);
}

TEST(Sockets, PassedToAChildWithItsOwnListenPidAndTakenBack) {
  testing::TempDir dir;
  std::string spec = "tcp://127.0.0.1:" + std::to_string(testing::FreePort());
  auto fd = BindListener(spec);
  ASSERT_TRUE(fd.ok()) << fd.error();
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", "echo \"$LISTEN_PID $$\" > pids; exec sleep 30"};
  o.env = {"PATH=/usr/bin:/bin", "LISTEN_FDS=1"};
  o.cwd = dir.path();
  o.pass_fds = {*fd};
  o.set_listen_pid = true;
  auto child = Spawn(o);
  ASSERT_TRUE(child.ok()) << child.error();
  ASSERT_TRUE(testing::WaitUntil([&] { return testing::ReadFile(dir / "pids").size() > 2; }));
  std::string pid = std::to_string(child->pid());
  EXPECT_EQ(testing::ReadFile(dir / "pids"), pid + " " + pid + "\n");
  // After a restart, Anthill takes the program's fd 3 back instead of binding anew.
  auto taken = TakeListenerFrom(child->pidfd(), 3, spec);
  ASSERT_TRUE(taken.ok()) << taken.error();
  EXPECT_FALSE(TakeListenerFrom(child->pidfd(), 3, "tcp://127.0.0.1:1").ok());
  EXPECT_FALSE(TakeListenerFrom(child->pidfd(), 0, spec).ok()) << "stdin is no listener";
  ASSERT_TRUE(SignalGroup(child->pid(), SIGKILL).ok());
  CloseFd(*taken);
  CloseFd(*fd);
}

}  // namespace
}  // namespace anthill::os
