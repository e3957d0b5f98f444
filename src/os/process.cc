// The child-process protocol. Each step says why it is there.
#include "os/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <sstream>

#include "base/files.h"
#include "os/signals.h"

extern char** environ;

namespace anthill::os {

namespace asio = boost::asio;

namespace {

// The soft limit on open files before RaiseOpenFileLimit, which children
// get back; unset (0) while it was never raised.
rlimit g_inherited_nofile{};

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

std::string Errno(int err) { return strerror(err); }

// A missing program, directory or file is "not found"; anything else has no
// kind a caller acts on.
StatusCode NotFoundOr(int err) {
  return err == ENOENT ? StatusCode::kNotFound : StatusCode::kInternal;
}

// Looks argv0 up in PATH (from env when it has one) in the parent, so the
// child only has to call execve: no allocation after fork.
std::string ResolveProgram(const std::string& argv0, const std::vector<std::string>& env) {
  if (argv0.find('/') != std::string::npos) return argv0;
  std::string path;
  bool found_in_env = false;
  for (const auto& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) {
      path = kv.substr(5);
      found_in_env = true;
    }
  }
  if (!found_in_env) {
    const char* p = getenv("PATH");
    path = p ? p : "/usr/local/bin:/usr/bin:/bin";
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + argv0;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return argv0;  // execve fails with ENOENT, reported as such
}

// What the child reports through the status pipe when it cannot exec.
struct ChildError {
  int stage;  // 0 chdir, 1 open output, 2 fds, 3 exec
  int err;
};

[[noreturn]] void ChildFail(int pipe_fd, int stage) {
  ChildError e{stage, errno};
  (void)!write(pipe_fd, &e, sizeof e);
  _exit(127);
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (!known) return "exited (status unknown)";
  if (signaled) return "killed by " + SignalName(signal);
  return "exit " + std::to_string(code);
}

Child::Child(Child&& other) noexcept : pid_(other.pid_), pidfd_(other.pidfd_), ours_(other.ours_) {
  other.pidfd_ = -1;
  other.pid_ = -1;
}

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    if (pidfd_ >= 0) close(pidfd_);
    pid_ = other.pid_;
    pidfd_ = other.pidfd_;
    ours_ = other.ours_;
    other.pidfd_ = -1;
    other.pid_ = -1;
  }
  return *this;
}

Child::~Child() {
  if (pidfd_ >= 0) close(pidfd_);
}

int Child::release_pidfd() {
  int fd = pidfd_;
  pidfd_ = -1;
  return fd;
}

Result<Child> Spawn(const SpawnOptions& options) {
  if (options.argv.empty()) return Status::InvalidArgument("cannot start: empty command");
  // Everything the child needs is prepared before fork: after fork only
  // async-signal-safe calls are allowed (another thread may hold malloc's lock).
  std::string program = ResolveProgram(options.argv[0], options.env);
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  // LISTEN_PID must be the child's own pid, known only after fork: the entry
  // is made here and its digits written in the child (no allocation there).
  char listen_pid[32] = "LISTEN_PID=";
  if (options.set_listen_pid) envp.push_back(listen_pid);
  envp.push_back(nullptr);
  std::string output = options.output.empty() ? "/dev/null" : options.output.string();
  std::string cwd = options.cwd.string();
  std::vector<int> pass = options.pass_fds;
  const rlimit nofile = g_inherited_nofile;

  // The status pipe is close-on-exec: a successful exec closes it and the
  // parent reads EOF; a failure writes errno first. So "cannot start" is an
  // error here, never a mysterious exit 127 later.
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) return Status::Error("pipe: " + Errno(errno));

  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(status_pipe[0]);
    close(status_pipe[1]);
    return Status::Error("fork: " + Errno(err));
  }
  if (pid == 0) {
    if (options.set_listen_pid) {
      char digits[16];
      int n = 0;
      for (pid_t self = getpid(); self > 0; self /= 10)
        digits[n++] = static_cast<char>('0' + self % 10);
      char* at = listen_pid + 11;
      while (n > 0) *at++ = digits[--n];
      *at = '\0';
    }
    // Own session and process group: a stop signal to the group reaches the
    // program's whole tree, and the program never gets Anthill's terminal
    // signals nor dies with it.
    if (options.new_session) setsid();
    // Default dispositions and an empty mask: Anthill ignores SIGPIPE and the
    // program must not inherit that.
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (nofile.rlim_cur != 0) setrlimit(RLIMIT_NOFILE, &nofile);

    if (!cwd.empty() && chdir(cwd.c_str()) != 0) ChildFail(status_pipe[1], 0);
    // stdin from /dev/null; stdout and stderr appended straight to a file,
    // not a pipe to Anthill, so the program never gets SIGPIPE when Anthill
    // is gone.
    int in = open("/dev/null", O_RDONLY);
    int out = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) ChildFail(status_pipe[1], 1);
    // Passed fds go to 3, 4, ...; first move every one above the range they
    // will occupy (and above our own fds) so no dup2 overwrites another.
    int high = 100 + static_cast<int>(pass.size());
    for (size_t i = 0; i < pass.size(); ++i) {
      int moved = fcntl(pass[i], F_DUPFD_CLOEXEC, high);
      if (moved < 0) ChildFail(status_pipe[1], 2);
      pass[i] = moved;
    }
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) ChildFail(status_pipe[1], 1);
    for (size_t i = 0; i < pass.size(); ++i) {
      // dup2 leaves the new fd without FD_CLOEXEC: it survives exec.
      if (dup2(pass[i], 3 + static_cast<int>(i)) < 0) ChildFail(status_pipe[1], 2);
    }
    // Nothing else leaks into the program (Anthill's sockets, the database,
    // the lock file); the status pipe is close-on-exec, so keep it open above.
    // (One call per range: an orchestrator may hold 10,000 sockets.)
    const unsigned first_closed = 3 + static_cast<unsigned>(pass.size());
    const auto keep = static_cast<unsigned>(status_pipe[1]);
    if (first_closed < keep) syscall(SYS_close_range, first_closed, keep - 1, 0);
    syscall(SYS_close_range, keep + 1, ~0U, 0);
    execve(program.c_str(), argv.data(), envp.data());
    ChildFail(status_pipe[1], 3);
  }

  close(status_pipe[1]);
  ChildError err{};
  ssize_t n;
  do {
    n = read(status_pipe[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    int st;
    waitpid(pid, &st, 0);
    switch (err.stage) {
      case 0:
        return Status::Error(NotFoundOr(err.err), "cannot chdir to " + cwd + ": " + Errno(err.err));
      case 1:
        return Status::Error(NotFoundOr(err.err), "cannot open " + output + ": " + Errno(err.err));
      case 2:
        return Status::Error("cannot pass file descriptors: " + Errno(err.err));
      default:
        return Status::Error(NotFoundOr(err.err),
                             "cannot start '" + options.argv[0] + "': " + Errno(err.err));
    }
  }
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    int e = errno;
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    return Status::Error("pidfd_open: " + Errno(e));
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return Child(pid, pidfd, true);
}

Result<Child> Adopt(pid_t pid) {
  int fd = PidfdOpen(pid);
  if (fd < 0) {
    const int err = errno;
    return Status::Error(err == ESRCH ? StatusCode::kNotFound : StatusCode::kInternal,
                         "process " + std::to_string(pid) + ": " + Errno(err));
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Child(pid, fd, false);
}

Result<unsigned long long> ProcessStartTime(pid_t pid) {
  const std::string stat = ReadWholeFile("/proc/" + std::to_string(pid) + "/stat");
  // comm (field 2) may hold spaces and ')': the fields after it start after
  // the last ')'.
  size_t close_paren = stat.rfind(')');
  if (stat.empty() || close_paren == std::string::npos) {
    return Status::NotFound("no process " + std::to_string(pid));
  }
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  char state = 0;
  rest >> state;  // field 3
  // A zombie has finished: it is no longer a program to adopt.
  if (state == 'Z' || state == 'X') {
    return Status::NotFound("process " + std::to_string(pid) + " has exited");
  }
  for (int i = 4; i < 22; ++i) rest >> field;
  unsigned long long ticks = 0;
  if (!(rest >> ticks)) return Status::Error("cannot parse /proc/" + std::to_string(pid) + "/stat");
  return ticks;
}

namespace {

// True when /proc/<pid>/environ holds exactly `entry` as one of its strings.
bool EnvironHas(pid_t pid, const std::string& entry) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string item;
  while (std::getline(f, item, '\0')) {
    if (item == entry) return true;
  }
  return false;
}

}  // namespace

std::vector<ProcessInfo> ProcessesWithCwdUnder(const std::filesystem::path& dir,
                                               const std::string& env_entry) {
  std::vector<ProcessInfo> out;
  std::error_code ec;
  std::filesystem::path base = std::filesystem::weakly_canonical(dir, ec);
  if (ec) base = dir;
  std::string prefix = base.string();
  if (prefix.empty() || prefix == "/") return out;  // never "every process"
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    std::error_code link_ec;
    std::string cwd = std::filesystem::read_symlink(entry.path() / "cwd", link_ec).string();
    if (link_ec) continue;  // gone, or not ours to read
    if (cwd.rfind(prefix, 0) != 0 || (cwd.size() > prefix.size() && cwd[prefix.size()] != '/' &&
                                      cwd.compare(prefix.size(), 10, " (deleted)") != 0)) {
      continue;
    }
    if (!ProcessStartTime(pid).ok()) continue;  // a zombie is not running
    if (!EnvironHas(pid, env_entry)) continue;
    pid_t pgid = getpgid(pid);
    if (pgid < 0) continue;
    out.push_back({pid, pgid});
  }
  return out;
}

Status SignalGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return Status::Error("refusing to signal process group " + std::to_string(pgid));
  if (kill(-pgid, sig) != 0 && errno != ESRCH) {
    return Status::Error("kill(-" + std::to_string(pgid) + "): " + Errno(errno));
  }
  return Status::Ok();
}

Status SignalPidfd(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) != 0 && errno != ESRCH) {
    return Status::Error("pidfd_send_signal: " + Errno(errno));
  }
  return Status::Ok();
}

AsyncChild::AsyncChild(asio::any_io_executor executor, Child child)
    : pid_(child.pid()), ours_(child.ours()), pidfd_(executor, child.release_pidfd()) {}

asio::awaitable<ExitStatus> AsyncChild::Wait() {
  if (exited_) co_return status_;
  // A pidfd becomes readable when its process ends, for children and
  // non-children alike; no SIGCHLD handler is involved. Readiness from the
  // reactor is only a hint (asio can hand a stale event of a just-closed
  // descriptor to a new one that reuses its state): poll() says for sure.
  boost::system::error_code ec;
  while (true) {
    co_await pidfd_.async_wait(asio::posix::stream_descriptor::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (exited_) co_return status_;
    pollfd p{pidfd_.native_handle(), POLLIN, 0};
    int n;
    do {
      n = poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n == 1 && (p.revents & POLLIN)) break;
    if (ec) break;  // cancelled or closed: the status stays unknown
  }
  ExitStatus st;
  if (ours_) {
    siginfo_t info{};
    int r;
    // P_PIDFD (3) reaps exactly this child, with no pid-reuse race. WNOHANG:
    // never block the io_context thread (asio made the pidfd non-blocking
    // anyway, which turns a not-yet-exited child into EAGAIN).
    do {
      r = waitid(static_cast<idtype_t>(3), pidfd_.native_handle(), &info, WEXITED | WNOHANG);
    } while (r != 0 && errno == EINTR);
    if (r == 0 && info.si_pid != 0) {
      if (info.si_code == CLD_EXITED) {
        st.code = info.si_status;
      } else {
        st.signaled = true;
        st.signal = info.si_status;
      }
    } else {
      st.known = false;
    }
  } else {
    st.known = false;
  }
  status_ = st;
  exited_ = true;
  pidfd_.close(ec);
  co_return status_;
}

Status AsyncChild::SignalGroup(int sig) {
  if (exited_) return Status::Ok();
  return os::SignalGroup(pid_, sig);
}

Status AsyncChild::Signal(int sig) {
  if (exited_) return Status::Ok();
  return SignalPidfd(pidfd_.native_handle(), sig);
}

Result<RunOutput> RunSync(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                          const std::vector<std::string>* env) {
  // Output goes through a temp file rather than a pipe: no reader thread, no
  // deadlock on large output.
  char tmpl[] = "/tmp/anthill-run-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return Status::Error("mkstemp: " + Errno(errno));
  close(fd);
  SpawnOptions o;
  o.argv = argv;
  o.cwd = cwd;
  o.env = env ? *env : CurrentEnvironment();
  o.output = tmpl;
  o.new_session = false;
  auto child = Spawn(o);
  if (!child.ok()) {
    unlink(tmpl);
    return child.status();
  }
  siginfo_t info{};
  int r;
  do {
    r = waitid(static_cast<idtype_t>(3), child->pidfd(), &info, WEXITED);
  } while (r != 0 && errno == EINTR);
  RunOutput out;
  if (info.si_code == CLD_EXITED) {
    out.status.code = info.si_status;
  } else {
    out.status.signaled = true;
    out.status.signal = info.si_status;
  }
  out.output = ReadWholeFile(tmpl);
  unlink(tmpl);
  return out;
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

size_t RaiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur >= rl.rlim_max) return rl.rlim_cur;
  const rlimit before = rl;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? rlim_t{1} << 20 : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return before.rlim_cur;
  if (g_inherited_nofile.rlim_cur == 0) g_inherited_nofile = before;
  return rl.rlim_cur;
}

}  // namespace anthill::os
