// A deployed program: started in its release dir in its own session and
// process group, output appended to logs/app/<project>.log, watched through
// its pidfd, stopped gracefully (stop signal to the group, SIGKILL after the
// stop timeout). The program never depends on Anthill staying alive.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/event.h"
#include "base/status.h"
#include "base/time.h"
#include "os/process.h"

namespace anthill::supervise {

// The argv for a `run` line: split on spaces when it is a plain command, or
// {"/bin/sh", "-c", "exec <run>"} when it uses shell syntax (quotes, $, ...),
// or {"/bin/sh", "-c", "<run>"} for a list or pipeline (;, &&, |). `exec`
// keeps the program itself as the recorded pid where it can.
std::vector<std::string> RunArgv(const std::string& run);

struct StartSpec {
  std::string run;
  std::filesystem::path cwd;  // the release dir
  std::vector<std::string> env;
  std::filesystem::path log;  // appended
  // Socket activation (systemd's protocol): these become fds 3, 4, ... with
  // LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID (the program's own pid).
  std::vector<int> listen_fds;
  std::vector<std::string> listen_names;
  std::filesystem::path notify_socket;  // NOTIFY_SOCKET when not empty (sd_notify READY=1)
};

struct StopOutcome {
  bool killed = false;  // needed SIGKILL after the stop timeout
  Duration took{0};
  os::ExitStatus status;
  std::string Describe()
      const;  // "exited (exit 0) 0.2 s after SIGTERM", "killed with SIGKILL after 10.0 s"
};

class Program : public std::enable_shared_from_this<Program> {
 public:
  // Spawns the program; errors say what could not be started.
  static Result<std::shared_ptr<Program>> Start(boost::asio::any_io_executor executor,
                                                const StartSpec& spec);
  // Watches a program a previous Anthill started, if pid still names the same
  // process (same start time): a reused pid is never mistaken for ours.
  static Result<std::shared_ptr<Program>> Adopt(boost::asio::any_io_executor executor, pid_t pid,
                                                unsigned long long start_ticks);

  pid_t pid() const { return child_->pid(); }
  unsigned long long start_ticks() const { return start_ticks_; }
  bool exited() const { return exited_.is_set(); }
  // Valid once exited().
  const os::ExitStatus& exit_status() const { return status_; }
  // True when it exited within `timeout`.
  boost::asio::awaitable<bool> WaitExit(Duration timeout) { return exited_.Wait(timeout); }

  // Copies the listening socket the program holds at `fd` (socket
  // activation: 3, 4, ...) into Anthill, if it is still the one for `spec`.
  Result<int> TakeListener(int fd, const std::string& spec);

  // True once Stop() was called: its exit was asked for, not a crash.
  bool stop_requested() const { return stop_requested_; }
  // When this Program object began watching the process (start or adoption).
  std::chrono::steady_clock::time_point watched_since() const { return watched_since_; }

  // Sends `sig` to the process group, waits up to `timeout`, then SIGKILLs the
  // group and waits for the exit.
  boost::asio::awaitable<StopOutcome> Stop(int sig, Duration timeout);

 private:
  Program(boost::asio::any_io_executor executor, os::Child child, unsigned long long start_ticks);
  void Watch();

  boost::asio::any_io_executor executor_;
  std::unique_ptr<os::AsyncChild> child_;
  unsigned long long start_ticks_;
  Event exited_;
  os::ExitStatus status_;
  bool stop_requested_ = false;
  std::chrono::steady_clock::time_point watched_since_ = std::chrono::steady_clock::now();
};

}  // namespace anthill::supervise
