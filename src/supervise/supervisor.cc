#include "supervise/supervisor.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "base/files.h"
#include "os/process.h"
#include "os/sockets.h"
#include "release/shared_paths.h"
#include "supervise/app_log.h"
#include "supervise/output_summary.h"

namespace anthill::supervise {

namespace asio = boost::asio;
namespace fs = std::filesystem;

Supervisor::Supervisor(asio::any_io_executor executor, ProgramSpec spec, store::MachineStore* store)
    : executor_(std::move(executor)),
      spec_(std::move(spec)),
      store_(store),
      wake_(std::make_unique<Event>(executor_)) {}

Supervisor::~Supervisor() {
  for (int fd : listeners_) os::CloseFd(fd);
}

void Supervisor::Shutdown() {
  shutting_down_ = true;
  wake_->Set();
}

void Supervisor::EndSwap() {
  swapping_ = false;
  wake_->Set();  // the restart loop looks at what runs now
}

void Supervisor::ResetAfterDeploy() {
  restarts_ = 0;
  last_exit_.clear();
  if (held_) {  // deployed again: no longer stopped by hand
    held_ = false;
    (void)store_->SetHeld(spec_.project, false);
  }
}

// --- Starting and checking ---------------------------------------------------

Status Supervisor::EnsureListeners() {
  if (spec_.listen.empty() || !listeners_.empty()) return Status::Ok();
  // After a restart the running program still holds the sockets: take them
  // back from it (one accept queue, no connection refused); else bind.
  std::vector<int> fds;
  for (size_t i = 0; i < spec_.listen.size(); ++i) {
    const std::string& listen = spec_.listen[i];
    Result<int> fd = Status::Error("no program");
    if (running_.alive()) fd = running_.program->TakeListener(3 + static_cast<int>(i), listen);
    if (fd.ok()) {
      spdlog::info("project {}: took {} back from pid {}", spec_.project, listen,
                   running_.program->pid());
    } else {
      fd = os::BindListener(listen);
    }
    if (!fd.ok()) {
      for (int f : fds) os::CloseFd(f);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  listeners_ = std::move(fds);
  return Status::Ok();
}

asio::awaitable<Status> Supervisor::Start(const Deployed& what, bool verified) {
  std::error_code ec;
  fs::create_directories(spec_.app_log.parent_path(), ec);
  // Linked at every start, not once: a rollback's release may predate
  // `shared`, and a link already there is left alone.
  if (Status linked = release::LinkShared(what.dir, spec_.project_dir / "shared", spec_.shared);
      !linked.ok()) {
    co_return linked;
  }
  StartSpec start{spec_.run, what.dir, what.env, spec_.app_log};
  if (!spec_.listen.empty()) {
    Status s = EnsureListeners();
    if (!s.ok()) co_return s;
    start.listen_fds = listeners_;
    for (const auto& l : spec_.listen) start.listen_names.push_back(os::ListenerName(l));
    notify_.reset();  // the old program's: it removes its file on the way out
    auto notify = NotifySocket::Open(executor_, spec_.notify_socket);
    if (!notify.ok()) co_return notify.status();
    notify_ = std::move(notify.value());
    start.notify_socket = notify_->path();
  }
  output_offset_ = fs::file_size(spec_.app_log, ec);
  if (ec) output_offset_ = 0;
  auto program = Program::Start(executor_, start);
  if (!program.ok()) co_return program.status();
  running_ = Running{*program, what, Now(), Health::kUnknown};
  RecordProcess(verified);
  wake_->Set();  // a new program to watch
  co_return Status::Ok();
}

void Supervisor::RecordProcess(bool verified) {
  const Running& r = running_;
  store::Process p{spec_.project,
                   r.program->pid(),
                   r.program->pid(),
                   r.program->start_ticks(),
                   r.what.release,
                   r.what.version,
                   r.what.commit,
                   r.what.deployment_id,
                   r.started_at.value_or(Now())};
  Status s = verified ? store_->PutProcess(p) : store_->PutCandidate(p);
  if (!s.ok()) spdlog::error("project {}: cannot record process: {}", spec_.project, s.message());
}

void Supervisor::Promote() {
  Status s = store_->PromoteCandidate(spec_.project);
  if (!s.ok()) spdlog::error("project {}: cannot record process: {}", spec_.project, s.message());
}

void Supervisor::Restore(const Running& previous) {
  running_ = previous;
  running_.health = Health::kHealthy;
  (void)store_->DeleteCandidate(spec_.project);
  RecordProcess(true);
  wake_->Set();
}

void Supervisor::Clear(bool forget_release) {
  (void)store_->DeleteCandidate(spec_.project);
  running_.program.reset();
  running_.health = Health::kUnknown;
  if (forget_release) {
    (void)store_->DeleteProcess(spec_.project);
    running_.what = Deployed{};
  }
}

void Supervisor::RecordIntent(const Deployed& what) {
  store::Process intent{spec_.project,      0,    0, 0, what.release, what.version, what.commit,
                        what.deployment_id, Now()};
  (void)store_->PutProcess(intent);
}

std::string Supervisor::OutputSinceStart() const {
  std::string summary = SummarizeOutput(ReadFileTail(spec_.app_log, output_offset_, 8192));
  return summary.empty() ? "" : "; its last output: " + summary;
}

HealthContext Supervisor::RunningHealthContext() const {
  return {running_.what.dir, running_.what.env};
}

asio::awaitable<Status> Supervisor::CheckHealth() {
  auto program = running_.program;
  const HealthContext hc = RunningHealthContext();
  Status s = co_await WaitHealthy(*program, spec_.health, hc);
  if (program == running_.program) running_.health = s.ok() ? Health::kHealthy : Health::kUnknown;
  co_return s.Suffixed(OutputSinceStart());
}

asio::awaitable<Status> Supervisor::WaitReady() {
  if (!spec_.ready_notify) co_return co_await CheckHealth();
  auto program = running_.program;
  auto deadline = std::chrono::steady_clock::now() + spec_.health.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (notify_ && notify_->ready()) co_return Status::Ok();
    if (program->exited()) {
      co_return Status::Error("exited (" + program->exit_status().Describe() +
                              ") before it sent READY=1" + OutputSinceStart());
    }
    co_await program->WaitExit(Duration(10));
  }
  co_return Status::Error("no READY=1 within " + FormatDuration(spec_.health.timeout) +
                          OutputSinceStart());
}

asio::awaitable<Status> Supervisor::StaysHealthy() {
  const config::HealthCheck& check = spec_.health;
  if (check.min_healthy_time.count() <= 0) co_return Status::Ok();
  auto program = running_.program;
  const auto passed = std::chrono::steady_clock::now();
  const auto deadline = passed + check.min_healthy_time;
  const Duration every = std::clamp(check.interval, Duration(50), Duration(1000));
  const Duration limit = std::min(check.timeout, std::max(every, Duration(1000)));
  const HealthContext hc = RunningHealthContext();
  auto since = [&] {
    return FormatDuration(
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - passed));
  };
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    co_await program->WaitExit(std::min(every, left + Duration(1)));
    if (program->exited()) {
      co_return Status::Error("exited (" + program->exit_status().Describe() + ") " + since() +
                              " after passing its health check, within min_healthy_time " +
                              FormatDuration(check.min_healthy_time) + OutputSinceStart());
    }
    if (check.kind == config::HealthCheck::Kind::kNone) continue;
    Status probe = co_await ProbeOnce(check, hc, limit);
    if (!probe.ok()) {
      co_return Status::Error(
          "failed its health check " + since() + " after passing it, within min_healthy_time " +
          FormatDuration(check.min_healthy_time) + ": " + probe.message() + OutputSinceStart());
    }
  }
  co_return Status::Ok();
}

asio::awaitable<std::optional<StopOutcome>> Supervisor::StopCurrent() {
  auto program = running_.program;
  if (!program || program->exited()) co_return std::nullopt;
  StopOutcome out = co_await Stop(*program);
  co_return out;
}

asio::awaitable<StopOutcome> Supervisor::Stop(Program& program) {
  StopOutcome out = co_await program.Stop(spec_.stop_signal, spec_.stop_timeout);
  co_return out;
}

// --- Events --------------------------------------------------------------------

void Supervisor::RecordEvent(store::ProgramEventKind kind, int64_t pid, const std::string& detail) {
  store::ProgramEvent e{0, spec_.project, Now(), kind, running_.what.version, pid, detail};
  auto id = store_->AddProgramEvent(e);
  if (!id.ok()) spdlog::error("project {}: cannot record event: {}", spec_.project, id.error());
  spdlog::info("project {}: {} {} (pid {}): {}", spec_.project, running_.what.version,
               store::ToString(kind), pid, detail);
}

// --- By hand -------------------------------------------------------------------

HandOutcome Supervisor::StopByHand(const std::string& actor) {
  using K = HandOutcome::Kind;
  if (swapping_) {
    return {K::kConflict, "a deployment is swapping the program; try when it has ended"};
  }
  held_ = true;
  (void)store_->SetHeld(spec_.project, true);
  wake_->Set();  // a pending restart is off
  auto p = running_.program;
  if (!p || p->exited()) {
    RecordEvent(store::ProgramEventKind::kStopped, 0, "by " + actor + " (it was not running)");
    return {K::kDone, spec_.project + " was not running; it stays stopped"};
  }
  asio::co_spawn(
      executor_,
      [this, p, actor]() -> asio::awaitable<void> {
        auto out = co_await Stop(*p);
        if (p == running_.program) running_.health = Health::kUnknown;
        RecordEvent(store::ProgramEventKind::kStopped, p->pid(),
                    "by " + actor + ": " + out.Describe());
      },
      asio::detached);
  return {K::kStarted, "stopping " + spec_.project + " " + running_.what.version + " (pid " +
                           std::to_string(p->pid()) + ")"};
}

HandOutcome Supervisor::StartByHand(const std::string& actor) {
  using K = HandOutcome::Kind;
  if (swapping_) {
    return {K::kConflict, "a deployment is swapping the program; try when it has ended"};
  }
  held_ = false;
  (void)store_->SetHeld(spec_.project, false);
  if (running_.alive()) {
    return {K::kDone, spec_.project + " is already running (pid " +
                          std::to_string(running_.program->pid()) + ")"};
  }
  std::error_code ec;
  if (running_.what.release.empty() || !fs::is_directory(running_.what.dir, ec)) {
    return {K::kConflict, spec_.project + " has no release to start; deploy it first"};
  }
  asio::co_spawn(
      executor_,
      [this, actor]() -> asio::awaitable<void> {
        const Deployed what = running_.what;
        Status s = co_await Start(what, true);
        if (!s.ok()) {
          RecordEvent(store::ProgramEventKind::kStartFailed, 0, "by " + actor + ": " + s.message());
          co_return;
        }
        RecordEvent(store::ProgramEventKind::kStarted, running_.program->pid(), "by " + actor);
        (void)co_await CheckHealth();
      },
      asio::detached);
  return {K::kStarted, "starting " + spec_.project + " " + running_.what.version};
}

}  // namespace anthill::supervise
