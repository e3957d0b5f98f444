#include "os/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "base/strings.h"
#include "os/lock.h"
#include "os/signals.h"
#include "testing/testing.h"

namespace anthill::os {
namespace {

namespace asio = boost::asio;

ExitStatus AwaitExit(Child child) {
  asio::io_context io;
  ExitStatus out;
  AsyncChild running(io.get_executor(), std::move(child));
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out = co_await running.Wait(); }, asio::detached);
  io.run();
  return out;
}

SpawnOptions Sh(const std::string& script, const std::filesystem::path& out) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c", script};
  o.env = {"PATH=/usr/bin:/bin", "ONLY=this"};
  o.output = out;
  o.cwd = out.parent_path();
  return o;
}

TEST(Spawn, ReportsExitCodesAndSignals) {
  testing::TempDir dir;
  auto c = Spawn(Sh("exit 7", dir / "out"));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(AwaitExit(std::move(*c)).Describe(), "exit 7");
  c = Spawn(Sh("kill -KILL $$", dir / "out"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(AwaitExit(std::move(*c)).Describe(), "killed by SIGKILL");
}

TEST(Spawn, ErrorsNameTheProgramOrTheDir) {
  SpawnOptions o;
  o.argv = {"no-such-program-anthill"};
  o.env = {"PATH=/usr/bin:/bin"};
  EXPECT_EQ(Spawn(o).error(), "cannot start 'no-such-program-anthill': No such file or directory");
  o.argv = {"true"};
  o.cwd = "/no/such/dir";
  EXPECT_EQ(Spawn(o).error(), "cannot chdir to /no/such/dir: No such file or directory");
}

TEST(Spawn, GivesExactlyTheEnvironmentCwdAndAppendsOutput) {
  testing::TempDir dir;
  auto o = Sh("pwd; env | grep -v '^PWD=' | grep -v '^SHLVL=' | grep -v '^_=' | sort", dir / "out");
  o.cwd = dir.path();
  for (int i = 0; i < 2; ++i) {
    auto c = Spawn(o);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(AwaitExit(std::move(*c)).success());
  }
  std::string once = dir.path().string() + "\nONLY=this\nPATH=/usr/bin:/bin\n";
  EXPECT_EQ(testing::ReadFile(dir / "out"), once + once);
}

TEST(Spawn, ChildLeadsItsOwnSessionAndGetsOnlyItsFds) {
  testing::TempDir dir;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  auto o =
      Sh("echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$; ls /proc/$$/fd | sort -n | tr '\\n' ' '; "
         "echo passed >&3",
         dir / "out");
  o.pass_fds = {pipe_fds[1]};
  auto c = Spawn(o);
  ASSERT_TRUE(c.ok());
  pid_t pid = c->pid();
  close(pipe_fds[1]);
  EXPECT_TRUE(AwaitExit(std::move(*c)).success());
  char buf[16] = {};
  EXPECT_EQ(read(pipe_fds[0], buf, sizeof buf), 7);
  EXPECT_STREQ(buf, "passed\n");
  close(pipe_fds[0]);
  std::string out = testing::ReadFile(dir / "out");
  EXPECT_NE(out.find("sid=" + std::to_string(pid) + " pid=" + std::to_string(pid)),
            std::string::npos)
      << out;
  // 0-2, the passed fd 3, and the fd ls itself opens on /proc/$$/fd... of the shell: none else.
  EXPECT_NE(out.find("\n0 1 2 3 "), std::string::npos) << out;
  EXPECT_EQ(out.find(" 4 "), std::string::npos) << out;
}

// An orchestrator raises its limit on open files (10,000 agents' long
// polls) and holds sockets far above 1024: its programs get neither.
TEST(Spawn, ChildGetsTheOpenFileLimitAnthillHadAndNoneOfItsHighFds) {
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  if (old.rlim_max < 4096) GTEST_SKIP() << "the hard limit on open files is below 4096 here";
  rlimit lowered = old;
  lowered.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const size_t raised = RaiseOpenFileLimit();
  EXPECT_EQ(raised, old.rlim_max == RLIM_INFINITY ? size_t{1} << 20 : old.rlim_max);
  const int high = fcntl(0, F_DUPFD, 3000);  // not close-on-exec: Spawn closes it
  ASSERT_GE(high, 3000);
  testing::TempDir dir;
  auto c =
      Spawn(Sh("ulimit -Sn; ls /proc/$$/fd | sort -n | tail -n 2 | tr '\\n' ' '", dir / "out"));
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(AwaitExit(std::move(*c)).success());
  close(high);
  setrlimit(RLIMIT_NOFILE, &old);
  const std::string out = testing::ReadFile(dir / "out");
  EXPECT_EQ(out.substr(0, 5), "1024\n") << out;
  EXPECT_EQ(out.find("3000"), std::string::npos) << out;
}

TEST(Spawn, SignalGroupReachesGrandchildren) {
  testing::TempDir dir;
  auto c = Spawn(Sh("sleep 300 & echo $! > grandchild; wait", dir / "out"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(testing::WaitUntil([&] { return !testing::ReadFile(dir / "grandchild").empty(); }));
  std::string grandchild(Trim(testing::ReadFile(dir / "grandchild")));
  ASSERT_TRUE(SignalGroup(c->pid(), SIGTERM).ok());
  EXPECT_EQ(AwaitExit(std::move(*c)).Describe(), "killed by SIGTERM");
  EXPECT_TRUE(testing::WaitUntil([&] {
    std::string stat = testing::ReadFile("/proc/" + grandchild + "/stat");
    return stat.empty() || stat.find(") Z") != std::string::npos;
  }));
}

TEST(Adopt, WatchesAProcessItDidNotStartAndChecksStartTime) {
  testing::TempDir dir;
  auto c = Spawn(Sh("sleep 300", dir / "out"));
  ASSERT_TRUE(c.ok());
  auto t1 = ProcessStartTime(c->pid());
  auto t2 = ProcessStartTime(c->pid());
  ASSERT_TRUE(t1.ok()) << t1.error();
  EXPECT_EQ(*t1, *t2);
  auto adopted = Adopt(c->pid());
  ASSERT_TRUE(adopted.ok()) << adopted.error();
  EXPECT_FALSE(adopted->ours());
  pid_t pid = c->pid();
  ASSERT_TRUE(SignalPidfd(c->pidfd(), SIGKILL).ok());
  EXPECT_EQ(AwaitExit(std::move(*c)).Describe(), "killed by SIGKILL");
  EXPECT_EQ(AwaitExit(std::move(*adopted)).Describe(), "exited (status unknown)");
  EXPECT_FALSE(ProcessStartTime(pid).ok());
}

TEST(ProcessesWithCwdUnder, FindsProcessesWorkingInsideADirOnly) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "projects/hello/releases/r1");
  std::filesystem::create_directories(dir / "projects/hello-2");
  SpawnOptions inside = Sh("exec sleep 30", dir / "projects/hello/releases/r1/out.log");
  inside.env.push_back("ANTHILL_PROJECT=hello");
  SpawnOptions beside = Sh("exec sleep 30", dir / "projects/hello-2/out.log");
  beside.env.push_back("ANTHILL_PROJECT=hello");
  SpawnOptions person = Sh("exec sleep 30", dir / "projects/hello/releases/r1/shell.log");
  auto a = Spawn(inside);
  auto b = Spawn(beside);
  auto c = Spawn(person);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  auto found = ProcessesWithCwdUnder(dir / "projects/hello", "ANTHILL_PROJECT=hello");
  ASSERT_EQ(found.size(), 1u) << "a sibling dir sharing the prefix is not inside, and a process "
                                 "without the project in its environment is not ours";
  EXPECT_EQ(found[0].pid, a->pid());
  EXPECT_EQ(found[0].pgid, a->pid()) << "spawned in its own session";
  EXPECT_TRUE(ProcessesWithCwdUnder("/", "ANTHILL_PROJECT=hello").empty()) << "never every process";
  for (pid_t pid : {a->pid(), b->pid(), c->pid()}) ASSERT_TRUE(SignalGroup(pid, SIGKILL).ok());
  EXPECT_TRUE(AwaitExit(std::move(a.value())).signaled);
  EXPECT_TRUE(AwaitExit(std::move(b.value())).signaled);
  EXPECT_TRUE(AwaitExit(std::move(c.value())).signaled);
  EXPECT_TRUE(ProcessesWithCwdUnder(dir / "projects/hello", "ANTHILL_PROJECT=hello").empty())
      << "reaped: not running";
}

TEST(RunSync, CapturesOutputAndExitCode) {
  auto r = RunSync({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "out\nerr\n");
  EXPECT_EQ(r->status.code, 3);
}

TEST(Signals, NamesRoundTrip) {
  for (const char* n : {"SIGTERM", "TERM", "sigterm", "15"}) {
    auto s = SignalFromName(n);
    ASSERT_TRUE(s.ok()) << n;
    EXPECT_EQ(*s, SIGTERM);
  }
  EXPECT_EQ(SignalName(SIGKILL), "SIGKILL");
  EXPECT_EQ(SignalFromName("FOO").error(), "unknown signal 'FOO'");
}

TEST(FileLock, ASecondHolderIsRefused) {
  testing::TempDir dir;
  auto first = FileLock::Acquire(dir / "lock");
  ASSERT_TRUE(first.ok()) << first.error();
  // flock locks belong to the open file description: a second open conflicts.
  auto second = FileLock::Acquire(dir / "lock");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find("another anthill is already using this data dir"),
            std::string::npos);
}

}  // namespace
}  // namespace anthill::os
