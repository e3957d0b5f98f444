// The deployment pipeline of one project, step by step:
//   fetch -> build -> test -> release -> stop -> start -> healthcheck
// and, when the new version fails to start or to become healthy, rollback.
// Every step is written to the store when it starts and again when it ends.
// Nothing before `stop` touches the running program: a failed fetch, build
// or test leaves it serving.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>

#include "base/files.h"
#include "base/strings.h"
#include "build/step_runner.h"
#include "deploy/output_summary.h"
#include "os/sockets.h"
#include "deploy/project_runner.h"
#include "supervise/health.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct ProjectRunner::Attempt {
  store::Deployment d;
  Candidate c;
  fs::path log;
  std::string log_shown;  // "`anthill logs hello --build 42`", as errors name it
  // What ran before this deployment, to roll back to.
  std::shared_ptr<supervise::Program> previous;
  std::string prev_release, prev_version, prev_commit, prev_ref;
  std::optional<TimePoint> prev_started_at;
  bool swapped = false;  // the old program was stopped
  // A rollback returns to a release that passed its check before: its
  // program is recorded at once, so a restart of Anthill finishes it.
  bool rollback = false;
};

namespace {

// Records one step: a row when it starts, the outcome when it ends.
class StepRecord {
 public:
  StepRecord(store::Store* store, int64_t deployment_id, const std::string& project,
             std::string name)
      : store_(store), project_(project), name_(std::move(name)) {
    spdlog::info("project {}: deployment {}: {}", project_, deployment_id, name_);
    auto id = store_->StartStep(deployment_id, name_, Now());
    if (id.ok()) {
      id_ = *id;
    } else {
      spdlog::error("project {}: cannot record step {}: {}", project_, name_, id.error());
    }
  }
  Status End(Status outcome,
             store::StepStatus failed_as = store::StepStatus::kFailed) {
    auto status = outcome.ok() ? store::StepStatus::kSucceeded : failed_as;
    if (!outcome.ok()) {
      spdlog::warn("project {}: {} failed: {}", project_, name_, outcome.message());
    }
    if (id_ != 0) {
      Status s = store_->FinishStep(id_, status, Now(), outcome.message());
      if (!s.ok()) spdlog::error("project {}: cannot record step {}: {}", project_, name_, s.message());
    }
    return outcome;
  }

 private:
  store::Store* store_;
  std::string project_;
  std::string name_;
  int64_t id_ = 0;
};

// Waits for a slot "until woken": Release() or a cancel wakes the waiter.
constexpr Duration kForeverish{3600 * 1000};

void AppendToLog(const fs::path& log, const std::string& line) {
  std::ofstream out(log, std::ios::app | std::ios::binary);
  out << line;
}

}  // namespace

asio::awaitable<void> ProjectRunner::Execute(queue::Request r) {
  Attempt a;
  auto row = ctx_.store->GetDeployment(r.deployment_id);
  if (!row.ok() || !row->has_value()) {
    spdlog::error("project {}: deployment {} vanished from the store", project_.name,
                  r.deployment_id);
    co_return;
  }
  a.d = **row;
  a.d.steps.clear();
  a.c = Candidate{r.ref, r.commit, r.version};
  a.rollback = r.kind == queue::Kind::kRollback;
  // What runs now, which may differ from when it was queued.
  bool running = program_ && !program_->exited();
  a.d.from_version = running ? version_ : "";
  a.d.from_commit = running ? commit_ : "";
  a.d.status = store::DeploymentStatus::kRunning;
  a.d.started_at = Now();
  a.log = BuildLog(a.d.id);
  a.log_shown = "`anthill logs " + project_.name + " --build " + std::to_string(a.d.id) + "`";
  std::error_code ec;
  fs::create_directories(a.log.parent_path(), ec);
  last_deployment_id_ = a.d.id;
  last_deployment_status_ = "running";

  Status outcome;
  if (r.kind == queue::Kind::kRollback) {
    a.d.release = r.release;
    (void)ctx_.store->UpdateDeployment(a.d);
    spdlog::info("project {}: deployment {}: rolling back {} -> {} (by {})", project_.name,
                 a.d.id, a.d.from_version.empty() ? "(nothing)" : a.d.from_version,
                 a.d.to_version, a.d.actor);
  } else {
    if (a.c.commit.empty()) {
      // A manual deploy names a ref; which commit it is, git says now.
      phase_ = Phase::kBuilding;
      auto resolved = co_await Resolve(r.ref);
      if (resolved.ok()) {
        a.c = *resolved;
        a.d.ref = a.c.ref;
        a.d.to_commit = a.c.commit;
        a.d.to_version = a.c.version;
        // Now the poller knows what is being deployed, and does not queue it again.
        if (queue::Request* running = queue_.mutable_running()) {
          running->ref = a.c.ref;
          running->commit = a.c.commit;
          running->version = a.c.version;
        }
        const auto& waiting = queue_.waiting();
        if (waiting && !waiting->manual && waiting->kind == queue::Kind::kDeploy &&
            waiting->commit == a.c.commit) {
          const int64_t dropped = waiting->deployment_id;
          (void)queue_.RemoveWaiting(dropped);
          RecordCancelled(dropped, a.c.version + " is already being deployed by deployment " +
                                       std::to_string(a.d.id));
        }
      } else {
        outcome = resolved.status();
      }
    }
    if (outcome.ok() && DropIfRedundant(r, a.c)) co_return;
    // A deploy by hand of a pinned commit is the person lifting the pin.
    if (outcome.ok() && r.manual) Unpin(a.c.commit);
    (void)ctx_.store->UpdateDeployment(a.d);
    if (outcome.ok()) {
      spdlog::info("project {}: deployment {}: {} -> {} ({} by {})", project_.name, a.d.id,
                   a.d.from_version.empty() ? "(nothing)" : a.d.from_version, a.d.to_version,
                   store::ToString(a.d.trigger), a.d.actor);
      outcome = co_await BuildRelease(a);
    }
  }
  if (outcome.ok() && !Cancelled()) {
    phase_ = Phase::kSwapping;
    outcome = co_await SwapIn(a);
    if (!outcome.ok() && !shutting_down_) {
      Status back = co_await RollBack(a, outcome.message());
      a.d.status = back.ok() ? store::DeploymentStatus::kRolledBack
                             : store::DeploymentStatus::kFailed;
      if (!back.ok()) outcome = Status::Error(outcome.message() + "; " + back.message());
    }
  } else if (outcome.ok()) {
    outcome = Status::Error("cancelled");
  }

  if (outcome.ok()) {
    a.d.status = store::DeploymentStatus::kSucceeded;
    last_error_.clear();
    restarts_ = 0;
    last_exit_.clear();
    if (held_) {  // deployed again: no longer stopped by hand
      held_ = false;
      (void)ctx_.store->SetHeld(project_.name, false);
    }
    if (r.kind == queue::Kind::kRollback && a.d.from_commit != a.d.to_commit) {
      // The version we left is not to come back by itself (pinned when the
      // rollback was asked for; this covers a deployment in between).
      Pin(a.d.from_commit, "rolled back from by " + a.d.actor);
    }
    // The running release and the last good one (the same, now) are never pruned.
    auto pruned = releases_.Prune(project_.keep_releases, {a.d.release});
    if (!pruned.ok()) spdlog::warn("project {}: prune: {}", project_.name, pruned.error());
  } else if (shutting_down_) {
    a.d.status = store::DeploymentStatus::kInterrupted;
    outcome = Status::Error("anthill stopped during the deployment (" + outcome.message() + ")");
  } else if (!cancelled_by_.empty() && !a.swapped) {
    a.d.status = store::DeploymentStatus::kCancelled;
    outcome = Status::Error("cancelled by " + cancelled_by_);
    // A person said no to this commit: pushes and polls leave it alone too.
    if (!a.c.commit.empty() && r.kind == queue::Kind::kDeploy) Pin(a.c.commit, outcome.message());
  } else {
    if (a.d.status != store::DeploymentStatus::kRolledBack) {
      a.d.status = store::DeploymentStatus::kFailed;
    }
    if (!a.c.commit.empty() && r.kind == queue::Kind::kDeploy) {
      Pin(a.c.commit, std::string(store::ToString(a.d.status)) + " in deployment " +
                          std::to_string(a.d.id));
    }
    last_error_ = outcome.message();
  }
  a.d.error = outcome.ok() ? "" : outcome.message();
  a.d.finished_at = Now();
  Status s = ctx_.store->UpdateDeployment(a.d);
  if (!s.ok()) spdlog::error("project {}: cannot record deployment end: {}", project_.name, s.message());
  last_deployment_status_ = std::string(store::ToString(a.d.status));
  spdlog::info("project {}: deployment {} {}{}{}", project_.name, a.d.id,
               store::ToString(a.d.status), outcome.ok() ? "" : ": ", a.d.error);
}

asio::awaitable<bool> ProjectRunner::AcquireBuildSlot() {
  queue::BuildSlots* slots = ctx_.build_slots;
  if (slots == nullptr) co_return true;
  phase_ = Phase::kWaitingForSlot;
  for (;;) {
    if (Cancelled()) {
      slots->Forget(slot_wake_.get());
      co_return false;
    }
    slot_wake_->Reset();
    if (slots->TryAcquire(slot_wake_.get())) break;
    co_await slot_wake_->Wait(kForeverish);
  }
  phase_ = Phase::kBuilding;
  co_return true;
}

asio::awaitable<Status> ProjectRunner::BuildRelease(Attempt& a) {
  // A release already built from this commit is reused: no fetch, no build.
  if (auto existing = releases_.FindByCommit(a.c.commit)) {
    StepRecord step(ctx_.store, a.d.id, project_.name, "release");
    a.d.release = *existing;
    (void)ctx_.store->UpdateDeployment(a.d);
    AppendToLog(a.log, "anthill: reusing release " + *existing + " built from " + a.c.commit +
                           "; nothing to build\n");
    co_return step.End(Status::Ok());
  }
  if (!co_await AcquireBuildSlot()) co_return Status::Error("cancelled while waiting for a build slot");
  Status s = co_await Prepare(a);
  if (ctx_.build_slots != nullptr) ctx_.build_slots->Release();
  co_return s;
}

asio::awaitable<Status> ProjectRunner::Prepare(Attempt& a) {
  const fs::path workspace = ProjectDir() / "workspace";
  // Present while a build or test runs, removed when they end by themselves:
  // found at the next build, it means the last one was killed half-way (an
  // Anthill crash, a cancel, a timeout) and its outputs cannot be trusted.
  const fs::path dirty = ProjectDir() / "workspace.dirty";
  {
    StepRecord step(ctx_.store, a.d.id, project_.name, "fetch");
    Status s = co_await git_.FetchAndCheckout(workspace, project_.repo, a.c.ref, a.c.commit, a.log);
    std::error_code ec;
    if (s.ok() && fs::exists(dirty, ec)) {
      AppendToLog(a.log, "anthill: the previous build was interrupted; cleaning the workspace "
                         "(git clean -ffdx) for a fresh build\n");
      s = co_await git_.Clean(workspace, a.log);
      if (s.ok()) fs::remove(dirty, ec);
    }
    s = step.End(s);
    if (!s.ok()) co_return s.Prefixed("fetch failed");
  }
  auto env = Environment(a.c, "");
  for (auto [name, command] : {std::pair{"build", &project_.build}, {"test", &project_.test}}) {
    if (command->empty()) continue;
    if (Cancelled()) co_return Status::Error("cancelled");
    StepRecord step(ctx_.store, a.d.id, project_.name, name);
    build::ShellStep shell{name, *command, workspace, env, a.log, project_.build_timeout, nullptr};
    // The marker names the build's process group, so that after a crash
    // start-up kills that group and nothing else that lives in the workspace.
    shell.on_started = [dirty](pid_t group) {
      std::ofstream out(dirty, std::ios::trunc | std::ios::binary);
      out << group << "\n";
    };
    AppendToLog(dirty, "");
    Status result = co_await build::RunShellStep(shell, a.log_shown, stopper_);
    // Ended by itself (success or an honest failure): outputs are consistent.
    // Stopped or timed out: the next build starts clean.
    bool killed = Cancelled() || result.message().find("timed out") != std::string::npos;
    std::error_code ec;
    if (!killed) fs::remove(dirty, ec);
    if (!killed) result = result.Suffixed(DiskFullHint());
    Status s = step.End(result, shutting_down_           ? store::StepStatus::kInterrupted
                                : !cancelled_by_.empty() ? store::StepStatus::kCancelled
                                                         : store::StepStatus::kFailed);
    if (!s.ok()) co_return s;
  }
  if (Cancelled()) co_return Status::Error("cancelled");
  StepRecord step(ctx_.store, a.d.id, project_.name, "release");
  std::vector<std::string> notes;
  auto made = releases_.Create(workspace, project_.artifacts, Now(), a.c.commit, &notes);
  for (const auto& note : notes) AppendToLog(a.log, "anthill: release: " + note + "\n");
  if (!made.ok()) co_return step.End(made.status().Prefixed("release failed").Suffixed(DiskFullHint()));
  a.d.release = *made;
  (void)ctx_.store->UpdateDeployment(a.d);
  co_return step.End(Status::Ok());
}

asio::awaitable<Status> ProjectRunner::StartRelease(const std::string& release,
                                                    const std::string& ref,
                                                    const std::string& version,
                                                    const std::string& commit, bool verified) {
  Status s = releases_.SwitchCurrent(release);
  if (!s.ok()) co_return s;
  std::error_code ec;
  fs::create_directories(AppLog().parent_path(), ec);
  fs::path dir = releases_.PathOf(release);
  supervise::StartSpec spec{project_.run, dir, Environment({ref, commit, version}, dir.string()),
                            AppLog()};
  if (!project_.listen.empty()) {
    s = EnsureListeners();
    if (!s.ok()) co_return s;
    spec.listen_fds = listeners_;
    for (const auto& l : project_.listen) spec.listen_names.push_back(os::ListenerName(l));
    notify_.reset();  // the old program's: it removes its file on the way out
    auto notify = supervise::NotifySocket::Open(
        ctx_.executor, ctx_.data_dir / "run" / (project_.name + ".notify"));
    if (!notify.ok()) co_return notify.status();
    notify_ = std::move(notify.value());
    spec.notify_socket = notify_->path();
  }
  output_offset_ = fs::file_size(AppLog(), ec);
  if (ec) output_offset_ = 0;
  auto program = supervise::Program::Start(ctx_.executor, spec);
  if (!program.ok()) co_return program.status();
  program_ = *program;
  version_ = version;
  commit_ = commit;
  release_ = release;
  ref_ = ref;
  started_at_ = Now();
  health_ = Health::kUnknown;
  store::Process p{project_.name, program_->pid(), program_->pid(), program_->start_ticks(),
                   release,       version,         commit,          last_deployment_id_,
                   *started_at_};
  s = verified ? ctx_.store->PutProcess(p) : ctx_.store->PutCandidate(p);
  if (!s.ok()) spdlog::error("project {}: cannot record process: {}", project_.name, s.message());
  supervise_wake_->Set();  // a new program to watch
  co_return Status::Ok();
}

void ProjectRunner::PromoteCandidate() {
  Status s = ctx_.store->PromoteCandidate(project_.name);
  if (!s.ok()) spdlog::error("project {}: cannot record process: {}", project_.name, s.message());
}

std::string ProjectRunner::OutputSinceStart() const {
  std::string summary = SummarizeOutput(ReadFileTail(AppLog(), output_offset_, 8192));
  return summary.empty() ? "" : "; its last output: " + summary;
}

std::string ProjectRunner::DiskFullHint() const {
  std::error_code ec;
  const fs::space_info space = fs::space(ctx_.data_dir, ec);
  // Below 1 MiB nothing Anthill writes (a release, a log, git's output) fits.
  if (ec || space.available >= (1u << 20)) return "";
  return "; the data dir " + ctx_.data_dir.string() + " is full (" +
         std::to_string(space.available) + " bytes free)";
}

supervise::HealthContext ProjectRunner::RunningHealthContext() const {
  const fs::path dir = releases_.PathOf(release_);
  return {dir, Environment({ref_, commit_, version_}, dir.string())};
}

asio::awaitable<Status> ProjectRunner::CheckHealth() {
  auto program = program_;
  const supervise::HealthContext hc = RunningHealthContext();
  Status s = co_await supervise::WaitHealthy(*program, project_.health, hc);
  if (program == program_) health_ = s.ok() ? Health::kHealthy : Health::kUnknown;
  co_return s.Suffixed(OutputSinceStart());
}

asio::awaitable<Status> ProjectRunner::SwapIn(Attempt& a) {
  a.previous = program_;
  a.prev_release = release_;
  a.prev_version = version_;
  a.prev_commit = commit_;
  a.prev_ref = ref_;
  a.prev_started_at = started_at_;
  if (!project_.listen.empty() && program_ && !program_->exited()) {
    co_return co_await SwapInWithoutDowntime(a);
  }
  if (program_ && !program_->exited()) {
    StepRecord step(ctx_.store, a.d.id, project_.name, "stop");
    auto out = co_await program_->Stop(project_.stop_signal, project_.stop_timeout);
    spdlog::info("project {}: {} (pid {}) {}", project_.name, version_, program_->pid(),
                 out.Describe());
    (void)step.End(Status::Ok());
  }
  a.swapped = true;
  if (a.rollback) {
    // Killed before the start below, a restarted Anthill starts this
    // release (it finishes the rollback) instead of the one left.
    store::Process intent{project_.name, 0, 0, 0, a.d.release, a.c.version, a.c.commit,
                          a.d.id, Now()};
    (void)ctx_.store->PutProcess(intent);
  }
  {
    StepRecord step(ctx_.store, a.d.id, project_.name, "start");
    Status s = step.End(
        co_await StartRelease(a.d.release, a.c.ref, a.c.version, a.c.commit, a.rollback));
    if (!s.ok()) co_return s.Prefixed("start failed");
  }
  StepRecord step(ctx_.store, a.d.id, project_.name, "healthcheck");
  Status healthy = co_await CheckHealth();
  if (healthy.ok()) healthy = co_await StaysHealthy();
  if (healthy.ok() && !a.rollback) PromoteCandidate();
  co_return step.End(healthy);
}

asio::awaitable<Status> ProjectRunner::SwapInWithoutDowntime(Attempt& a) {
  // start -> ready -> stop: the old program serves (on the same sockets)
  // until the new one is ready, so no connection is refused.
  {
    StepRecord step(ctx_.store, a.d.id, project_.name, "start");
    Status s = step.End(
        co_await StartRelease(a.d.release, a.c.ref, a.c.version, a.c.commit, a.rollback));
    if (!s.ok()) co_return s.Prefixed("start failed");
  }
  {
    StepRecord step(ctx_.store, a.d.id, project_.name, "healthcheck");
    Status s = co_await WaitReady();
    // The old version serves beside it until the new one has stayed healthy.
    if (s.ok()) s = co_await StaysHealthy();
    s = step.End(s);
    if (!s.ok()) co_return s;
  }
  health_ = Health::kHealthy;
  // Recorded before the old one stops: a restart from here on keeps the new.
  if (!a.rollback) PromoteCandidate();
  StepRecord step(ctx_.store, a.d.id, project_.name, "stop");
  auto out = co_await a.previous->Stop(project_.stop_signal, project_.stop_timeout);
  spdlog::info("project {}: {} (pid {}) {}", project_.name, a.prev_version, a.previous->pid(),
               out.Describe());
  a.swapped = true;
  co_return step.End(Status::Ok());
}

asio::awaitable<Status> ProjectRunner::WaitReady() {
  if (!project_.ready_notify) co_return co_await CheckHealth();
  auto program = program_;
  auto deadline = std::chrono::steady_clock::now() + project_.health.timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (notify_ && notify_->ready()) co_return Status::Ok();
    if (program->exited()) {
      co_return Status::Error("exited (" + program->exit_status().Describe() +
                              ") before it sent READY=1" + OutputSinceStart());
    }
    co_await program->WaitExit(Duration(10));
  }
  co_return Status::Error("no READY=1 within " + FormatDuration(project_.health.timeout) +
                          OutputSinceStart());
}

asio::awaitable<Status> ProjectRunner::StaysHealthy() {
  const config::HealthCheck& check = project_.health;
  if (check.min_healthy_time.count() <= 0) co_return Status::Ok();
  auto program = program_;
  const auto passed = std::chrono::steady_clock::now();
  const auto deadline = passed + check.min_healthy_time;
  const Duration every = std::clamp(check.interval, Duration(50), Duration(1000));
  const Duration limit = std::min(check.timeout, std::max(every, Duration(1000)));
  const supervise::HealthContext hc = RunningHealthContext();
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
    Status probe = co_await supervise::ProbeOnce(check, hc, limit);
    if (!probe.ok()) {
      co_return Status::Error("failed its health check " + since() +
                              " after passing it, within min_healthy_time " +
                              FormatDuration(check.min_healthy_time) + ": " + probe.message() +
                              OutputSinceStart());
    }
  }
  co_return Status::Ok();
}

asio::awaitable<Status> ProjectRunner::RollBack(Attempt& a, const std::string& reason) {
  StepRecord step(ctx_.store, a.d.id, project_.name, "rollback");
  if (a.previous && !a.previous->exited() && program_ != a.previous) {
    // The old program never stopped (zero-downtime swap): stop the new one
    // and keep the old one, which never noticed.
    auto out = co_await program_->Stop(project_.stop_signal, project_.stop_timeout);
    spdlog::info("project {}: stopped failed {}: {}", project_.name, a.c.version, out.Describe());
    program_ = a.previous;
    version_ = a.prev_version;
    commit_ = a.prev_commit;
    release_ = a.prev_release;
    ref_ = a.prev_ref;
    started_at_ = a.prev_started_at;
    health_ = Health::kHealthy;
    (void)ctx_.store->DeleteCandidate(project_.name);
    Status s = releases_.SwitchCurrent(a.prev_release);
    store::Process p{project_.name, program_->pid(), program_->pid(), program_->start_ticks(),
                     release_, version_, commit_, last_deployment_id_,
                     started_at_.value_or(Now())};
    (void)ctx_.store->PutProcess(p);
    supervise_wake_->Set();
    co_return step.End(s.Prefixed("rollback to " + a.prev_version + " failed"));
  }
  if (program_ && program_ != a.previous && !program_->exited()) {
    auto out = co_await program_->Stop(project_.stop_signal, project_.stop_timeout);
    spdlog::info("project {}: stopped failed {}: {}", project_.name, a.c.version, out.Describe());
  }
  (void)ctx_.store->DeleteCandidate(project_.name);
  program_.reset();
  if (a.prev_release.empty() || !releases_.Exists(a.prev_release)) {
    (void)ctx_.store->DeleteProcess(project_.name);
    version_.clear();
    commit_.clear();
    release_.clear();
    co_return step.End(Status::Error("no previous release to roll back to"));
  }
  Status s = co_await StartRelease(a.prev_release, a.prev_ref, a.prev_version, a.prev_commit);
  if (s.ok()) s = co_await CheckHealth();
  co_return step.End(s.Prefixed("rollback to " + a.prev_version + " failed"));
}

}  // namespace anthill::deploy
