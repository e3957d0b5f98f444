// Child processes: the only place in Anthill that forks and execs.
//
// Thread: Spawn may be called from any thread; an AsyncChild belongs to the
// io_context thread that created it.
//
// The protocol, step by step, is written down in process.cc. In short: the
// child gets its own session and process group (so a stop signal reaches the
// whole tree and so the child never dies with Anthill), stdin from /dev/null,
// stdout and stderr appended to a file (no pipe to Anthill, so no SIGPIPE when
// Anthill is gone), default signal dispositions, and only the fds it is given.
#pragma once

#include <sys/types.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace anthill::os {

struct ExitStatus {
  bool known = true;  // false when the process was not our child (re-adopted): no status
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  bool success() const { return known && !signaled && code == 0; }
  // "exit 0", "exit 2", "killed by SIGKILL", "exited (status unknown)"
  std::string Describe() const;
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::filesystem::path cwd;      // empty: Anthill's own
  std::vector<std::string> env;   // "K=V": the child's whole environment
  std::filesystem::path output;   // stdout+stderr appended here; empty: /dev/null
  bool new_session = true;        // setsid(): own session, pgid == pid
  std::vector<int> pass_fds;      // become fds 3, 4, ... in the child
  bool set_listen_pid = false;    // add LISTEN_PID=<the child's own pid> (socket activation)
};

// A started child process and its pidfd. Owns the pidfd (closed on
// destruction); never kills the process.
class Child {
 public:
  Child() = default;
  Child(pid_t pid, int pidfd, bool ours) : pid_(pid), pidfd_(pidfd), ours_(ours) {}
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  int pidfd() const { return pidfd_; }
  // True when this process forked it (so it can be reaped for an exit status).
  bool ours() const { return ours_; }
  // Hands the pidfd to the caller.
  int release_pidfd();

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool ours_ = true;
};

// Forks and execs. An exec failure (no such program, not executable, bad cwd)
// is reported here as an error, not as a child exiting 127.
Result<Child> Spawn(const SpawnOptions& options);

// Opens a pidfd for a process Anthill did not fork in this life (re-adoption
// after a restart). Fails when the process is gone.
Result<Child> Adopt(pid_t pid);

// Process start time in clock ticks since boot (/proc/<pid>/stat field 22).
// Together with the pid it names one process for its whole life: a reused pid
// has a different start time.
Result<unsigned long long> ProcessStartTime(pid_t pid);

// A live process whose working directory lies inside `dir`: after a crash of
// Anthill, the builds it ran (cwd: a workspace) and programs it started (cwd:
// a release dir) are found this way even when no record names them. Only
// processes whose environment holds `env_entry` ("ANTHILL_PROJECT=hello")
// count, so a person's shell that happens to sit in that dir is never one.
struct ProcessInfo {
  pid_t pid = 0;
  pid_t pgid = 0;
};
std::vector<ProcessInfo> ProcessesWithCwdUnder(const std::filesystem::path& dir,
                                               const std::string& env_entry);

// Sends sig to the process group pgid. Ok when the group is already gone.
Status SignalGroup(pid_t pgid, int sig);
// Sends sig to the process behind pidfd. Ok when it is already gone.
Status SignalPidfd(int pidfd, int sig);

// Waits for a child to exit without blocking the io_context thread: the pidfd
// becomes readable when the process ends, then it is reaped with waitid.
class AsyncChild {
 public:
  AsyncChild(boost::asio::any_io_executor executor, Child child);
  AsyncChild(const AsyncChild&) = delete;
  AsyncChild& operator=(const AsyncChild&) = delete;

  pid_t pid() const { return pid_; }
  bool exited() const { return exited_; }
  int pidfd() { return pidfd_.native_handle(); }
  // Completes when the process has exited (and reaps it when it is ours).
  // Await it from one coroutine at a time; after exit it returns the same status at once.
  boost::asio::awaitable<ExitStatus> Wait();
  // Signals the child's process group (its pgid is its pid: it was spawned
  // with new_session). No-op after exit.
  Status SignalGroup(int sig);
  // Signals only the process itself.
  Status Signal(int sig);

 private:
  pid_t pid_;
  bool ours_;
  bool exited_ = false;
  ExitStatus status_;
  boost::asio::posix::stream_descriptor pidfd_;
};

// Runs argv to completion, blocking, and returns its combined output. For the
// CLI and for tests; the daemon uses Spawn + AsyncChild.
struct RunOutput {
  ExitStatus status;
  std::string output;
};
Result<RunOutput> RunSync(const std::vector<std::string>& argv,
                          const std::filesystem::path& cwd = {},
                          const std::vector<std::string>* env = nullptr);

// The current environment as "K=V" strings.
std::vector<std::string> CurrentEnvironment();

// Raises this process's soft limit on open files to its hard limit (an
// orchestrator holds a connection per agent's long poll: 10,000 agents need
// more than the usual 1024) and returns the new soft limit. The soft limit
// it had is kept: Spawn gives it back to every child, as systemd does, so a
// program using select() is not handed a limit it never asked for. Call it
// once, before starting children.
size_t RaiseOpenFileLimit();

}  // namespace anthill::os
