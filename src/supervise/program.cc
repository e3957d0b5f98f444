#include "supervise/program.h"

#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstring>

#include "os/signals.h"
#include "os/sockets.h"

namespace anthill::supervise {

namespace asio = boost::asio;

std::vector<std::string> RunArgv(const std::string& line) {
  // "exec node app.js" is a common idiom for "the shell must not stay": it is
  // what a single command gets here anyway, so a leading `exec` is dropped
  // (kept, it became "exec exec ..." under the shell, or a program "exec").
  std::string_view view = line;
  while (!view.empty() && (view.front() == ' ' || view.front() == '\t')) view.remove_prefix(1);
  if (view.rfind("exec", 0) == 0 && view.size() > 4 && (view[4] == ' ' || view[4] == '\t')) {
    view.remove_prefix(5);
  }
  const std::string run(view);
  // Characters that mean the line needs a shell to be understood.
  static const char* kShellSyntax = "\"'`$\\<>*?[]~#=";
  // A list or pipeline ("a; b", "a && b", "a | b") runs as the shell's
  // children; a single command gets `exec` so its pid is the shell's pid.
  static const char* kCompound = ";&|\n(){}";
  // (A list keeps a leading `exec`: the shell runs it as written.)
  if (run.find_first_of(kCompound) != std::string::npos) return {"/bin/sh", "-c", line};
  if (run.find_first_of(kShellSyntax) != std::string::npos) {
    return {"/bin/sh", "-c", "exec " + run};
  }
  std::vector<std::string> argv;
  size_t i = 0;
  while (i < run.size()) {
    while (i < run.size() && (run[i] == ' ' || run[i] == '\t')) ++i;
    size_t j = i;
    while (j < run.size() && run[j] != ' ' && run[j] != '\t') ++j;
    if (j > i) argv.push_back(run.substr(i, j - i));
    i = j;
  }
  return argv;
}

std::string StopOutcome::Describe() const {
  if (killed) return "killed with SIGKILL after " + FormatDuration(took);
  return "exited (" + status.Describe() + ") after " + FormatDuration(took);
}

Program::Program(asio::any_io_executor executor, os::Child child, unsigned long long start_ticks)
    : executor_(executor),
      child_(std::make_unique<os::AsyncChild>(executor, std::move(child))),
      start_ticks_(start_ticks),
      exited_(executor) {}

Result<std::shared_ptr<Program>> Program::Start(asio::any_io_executor executor,
                                                const StartSpec& spec) {
  os::SpawnOptions opts;
  opts.argv = RunArgv(spec.run);
  if (opts.argv.empty()) return Status::Error("empty run command");
  opts.cwd = spec.cwd;
  opts.env = spec.env;
  opts.output = spec.log;
  if (!spec.listen_fds.empty()) {
    opts.pass_fds = spec.listen_fds;
    opts.set_listen_pid = true;
    std::string names;
    for (const auto& n : spec.listen_names) names += (names.empty() ? "" : ":") + n;
    opts.env.push_back("LISTEN_FDS=" + std::to_string(spec.listen_fds.size()));
    opts.env.push_back("LISTEN_FDNAMES=" + names);
  }
  if (!spec.notify_socket.empty())
    opts.env.push_back("NOTIFY_SOCKET=" + spec.notify_socket.string());
  // Own session: the program outlives Anthill, has no controlling terminal,
  // and its whole tree can be signalled as one process group.
  opts.new_session = true;
  auto child = os::Spawn(opts);
  if (!child.ok()) return child.status();
  pid_t pid = child->pid();
  auto ticks = os::ProcessStartTime(pid);
  auto program = std::shared_ptr<Program>(
      new Program(executor, std::move(child.value()), ticks.ok() ? *ticks : 0));
  program->Watch();
  return program;
}

Result<std::shared_ptr<Program>> Program::Adopt(asio::any_io_executor executor, pid_t pid,
                                                unsigned long long start_ticks) {
  auto ticks = os::ProcessStartTime(pid);
  if (!ticks.ok()) return Status::Error("process " + std::to_string(pid) + " is gone");
  if (*ticks != start_ticks) {
    return Status::Error("pid " + std::to_string(pid) +
                         " now belongs to another process (start time differs)");
  }
  auto child = os::Adopt(pid);
  if (!child.ok()) return child.status();
  // Check again now that the pidfd pins the process: the pid could have been
  // reused between the first check and pidfd_open.
  auto again = os::ProcessStartTime(pid);
  if (!again.ok() || *again != start_ticks) {
    return Status::Error("process " + std::to_string(pid) + " is gone");
  }
  auto program =
      std::shared_ptr<Program>(new Program(executor, std::move(child.value()), start_ticks));
  program->Watch();
  return program;
}

void Program::Watch() {
  auto self = shared_from_this();
  asio::co_spawn(
      executor_,
      [self]() -> asio::awaitable<void> {
        self->status_ = co_await self->child_->Wait();
        self->exited_.Set();
      },
      asio::detached);
}

Result<int> Program::TakeListener(int fd, const std::string& spec) {
  if (exited()) return Status::Error("the program has exited");
  return os::TakeListenerFrom(child_->pidfd(), fd, spec);
}

asio::awaitable<StopOutcome> Program::Stop(int sig, Duration timeout) {
  auto self = shared_from_this();  // keep alive across the awaits
  stop_requested_ = true;
  StopOutcome out;
  auto start = std::chrono::steady_clock::now();
  if (!exited()) {
    (void)child_->SignalGroup(sig);
    if (!co_await exited_.Wait(timeout)) {
      out.killed = true;
      (void)child_->SignalGroup(SIGKILL);
      // SIGKILL cannot be ignored; the wait is bounded only against a process
      // stuck in the kernel (D state).
      co_await exited_.Wait(Duration(30000));
    }
  }
  out.took = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - start);
  out.status = status_;
  co_return out;
}

}  // namespace anthill::supervise
