// One deployment, step by step:
//   fetch -> build -> test -> release -> stop -> start -> healthcheck
// and, when the new version fails to start or to become healthy, rollback.
// Every step is recorded when it starts and again when it ends (StepSink).
// Nothing before `stop` touches the running program: a failed fetch, build
// or test leaves it serving.
//
// On agents: fetch -> build -> test -> release -> upload on a builder, then
// the rollout (rollout.h) in place of stop, start and healthcheck; each
// agent records its own steps.
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "deploy/artifact_pruning.h"
#include "deploy/outcome.h"
#include "deploy/project_runner.h"
#include "deploy/rollout.h"
#include "deploy/swap.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct ProjectRunner::Attempt {
  store::Deployment d;
  store::Candidate c;
  BuildTarget build;
  bool rollback = false;     // back to a release that passed its check before
  bool old_stopped = false;  // the old program was stopped (too late to cancel)
  // On agents: the build job whose artifact the machines fetch.
  std::optional<store::BuildJobRow> job;
};

fs::path ProjectRunner::BuildLog(int64_t id) const {
  return ctx_.data_dir / "logs" / "build" / (std::to_string(id) + ".log");
}

std::string ProjectRunner::DiskFullHint() const {
  std::error_code ec;
  const fs::space_info space = fs::space(ctx_.data_dir, ec);
  // Below 1 MiB nothing Anthill writes (a release, a log, git's output) fits.
  if (ec || space.available >= (1u << 20)) return "";
  return "; the data dir " + ctx_.data_dir.string() + " is full (" +
         std::to_string(space.available) + " bytes free)";
}

asio::awaitable<void> ProjectRunner::Execute(queue::Request r) {
  Attempt a;
  const store::Deployment* row = intake_.Row(r.deployment_id);
  if (row == nullptr) {
    spdlog::error("project {}: deployment {} started without its row", project_.name,
                  r.deployment_id);
    co_return;
  }
  a.d = *row;
  a.c = r.target;
  a.rollback = r.kind == queue::Kind::kRollback;
  // What runs now, which may differ from when it was queued.
  const NowRunning now = WhatRuns();
  a.d.from_version = now.alive ? now.version : "";
  a.d.from_commit = now.alive ? now.commit : "";
  a.d.status = store::DeploymentStatus::kRunning;
  a.d.started_at = anthill::Now();
  a.build.deployment_id = a.d.id;
  a.build.log = BuildLog(a.d.id);
  a.build.log_shown = "`anthill logs " + project_.name + " --build " + std::to_string(a.d.id) + "`";
  std::error_code ec;
  fs::create_directories(a.build.log.parent_path(), ec);
  last_deployment_id_ = a.d.id;
  last_deployment_status_ = store::DeploymentStatus::kRunning;

  Status outcome = CanRollOut();
  if (r.kind == queue::Kind::kRollback) {
    a.d.release = r.release;
    intake_.Record(a.d);
    spdlog::info("project {}: deployment {}: rolling back {} -> {} (by {})", project_.name, a.d.id,
                 a.d.from_version.empty() ? "(nothing)" : a.d.from_version, a.d.to_version,
                 a.d.actor);
  } else {
    if (outcome.ok() && a.c.commit.empty()) {
      // A manual deploy names a ref; which commit it is, git says now.
      phase_ = Phase::kBuilding;
      auto resolved = co_await poller_.Resolve(r.target.ref);
      if (resolved.ok()) {
        a.c = *resolved;
        store::SetTarget(a.d, a.c);
        intake_.Resolved(a.c);
      } else {
        outcome = resolved.status();
      }
    }
    if (outcome.ok() && intake_.DropIfRedundant(r, a.c, WhatRuns())) {
      last_deployment_status_ = store::DeploymentStatus::kCancelled;
      co_return;
    }
    // A deploy by hand of a pinned commit is the person lifting the pin.
    if (outcome.ok() && r.manual) intake_.Unpin(a.c.commit);
    intake_.Record(a.d);
    if (outcome.ok()) {
      spdlog::info("project {}: deployment {}: {} -> {} ({} by {})", project_.name, a.d.id,
                   a.d.from_version.empty() ? "(nothing)" : a.d.from_version, a.d.to_version,
                   store::ToString(a.d.trigger), a.d.actor);
      outcome = co_await Build(a);
    }
  }
  std::optional<Status> back;  // the rollback after a failed swap, if one ran
  if (outcome.ok() && !Cancelled() && project_.on_agents()) {
    outcome = co_await RollOut(a, back);
  } else if (outcome.ok() && !Cancelled()) {
    phase_ = Phase::kSwapping;
    outcome = co_await SwapIn(a, back);
  } else if (outcome.ok()) {
    outcome = Status::Error("cancelled");
  }
  Finish(a, r, outcome, back);
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
    co_await slot_wake_->Wait(kUntilWoken);
  }
  phase_ = Phase::kBuilding;
  co_return true;
}

asio::awaitable<Status> ProjectRunner::Build(Attempt& a) {
  a.build.candidate = a.c;
  a.build.env = Environment(a.c, "");
  if (project_.on_agents()) {
    // The agents fetch the artifact: nothing is downloaded here, and a
    // release on this machine's disk is no artifact to them.
    BuildControls controls;
    controls.stopped = [this] { return Cancelled(); };
    auto job = co_await remote_build_->Built(a.build, controls);
    if (!job.ok()) co_return job.status();
    if (job->release.empty() || job->artifact_key.empty()) {
      co_return Status::Error("build job " + std::to_string(job->id) +
                              " names no artifact or release to roll out");
    }
    a.job = std::move(*job);
    a.d.release = a.job->release;
    intake_.Record(a.d);
    co_return Status::Ok();
  }
  // A release already built from this commit is reused: no fetch, no build.
  std::optional<std::string> release = build_job_.Reuse(a.build);
  if (!release && remote_build_) {
    BuildControls controls;
    controls.stopped = [this] { return Cancelled(); };
    Result<std::string> made = co_await remote_build_->Run(a.build, controls);
    if (!made.ok()) co_return made.status();
    release = *made;
  } else if (!release) {
    if (!co_await AcquireBuildSlot()) {
      co_return Status::Error("cancelled while waiting for a build slot");
    }
    BuildControls controls;
    controls.stopper = stopper_;
    controls.stopped = [this] { return Cancelled(); };
    controls.stopped_as = [this] {
      return shutting_down_ ? store::StepStatus::kInterrupted : store::StepStatus::kCancelled;
    };
    controls.disk_full_hint = [this] { return DiskFullHint(); };
    Result<std::string> made = co_await build_job_.Run(a.build, controls);
    if (ctx_.build_slots != nullptr) ctx_.build_slots->Release();
    if (!made.ok()) co_return made.status();
    release = *made;
  }
  a.d.release = *release;
  intake_.Record(a.d);
  co_return Status::Ok();
}

asio::awaitable<Status> ProjectRunner::SwapIn(Attempt& a, std::optional<Status>& back) {
  SwapPlan plan;
  plan.deployment_id = a.d.id;
  plan.target = DeployedOf(a.c, a.d.release, a.d.id);
  plan.rollback = a.rollback;
  plan.zero_downtime = !project_.listen.empty();
  Swap swap(&supervisor_, &releases_, &steps_, project_.name, plan);
  supervisor_.BeginSwap();
  Status outcome = co_await swap.In();
  if (!outcome.ok() && !shutting_down_) back = co_await swap.Back();
  a.old_stopped = swap.old_stopped();
  supervisor_.EndSwap();
  co_return outcome;
}

Status ProjectRunner::CanRollOut() const {
  if (!project_.on_agents()) return Status::Ok();
  if (ctx_.fleet == nullptr || ctx_.fleet->agents == nullptr || !remote_build_) {
    return Status::Error("project " + project_.name +
                         " runs on agents (machines/labels): that needs the fleet's PostgreSQL "
                         "record ([server] database)");
  }
  return Status::Ok();
}

asio::awaitable<Status> ProjectRunner::RollOut(Attempt& a, std::optional<Status>& back) {
  phase_ = Phase::kFetching;
  if (!a.job) {
    // A rollback by hand: the artifact its release was made from.
    auto job = co_await remote_build_->ArtifactOf(a.d.release);
    if (!job.ok()) co_return job.status().Prefixed("rolling back to " + a.c.version);
    a.job = std::move(*job);
  }
  RolloutSpec spec;
  spec.deployment_id = a.d.id;
  spec.project = project_.name;
  spec.release.release = a.d.release;
  spec.release.version = a.c.version;
  spec.release.commit = a.c.commit;
  spec.release.ref = a.c.ref;
  spec.release.artifact_key = a.job->artifact_key;
  spec.release.sha256 = a.job->artifact_sha256;
  spec.release.size = a.job->artifact_size;
  spec.program = ProgramOf(project_, project_.rollout.min_healthy);
  spec.policy = project_.rollout;
  spec.machines = project_.machines;
  spec.labels = project_.labels;
  spec.rollback = a.rollback;
  RolloutControls controls;
  controls.cancelled = [this] { return Cancelled(); };
  // From the first switch on, a cancel is refused (as during a swap).
  controls.switching = [this] { phase_ = Phase::kSwapping; };
  Rollout rollout(ctx_.fleet->agents, std::move(spec), std::move(controls));
  RolloutResult result = co_await rollout.Run();
  // No machine to run it on (none registered or matching yet, or every one
  // silent) says nothing of the commit: pinned like any failure (a poll
  // does not try it again and again), it is offered again once machines
  // answer (joining_machines.cc).
  const StatusCode why = result.status.code();
  const bool no_machines =
      !result.switched && (why == StatusCode::kNotFound || why == StatusCode::kUnavailable);
  waiting_for_machines_ = no_machines ? a.c.commit : "";
  a.old_stopped = result.switched;
  if (result.rolled_back) back = Status::Ok();
  co_return result.status;
}

void ProjectRunner::Finish(Attempt& a, const queue::Request& r, Status outcome,
                           const std::optional<Status>& back) {
  EndFacts facts;
  facts.ok = outcome.ok();
  facts.shutting_down = shutting_down_;
  facts.cancelled = !cancelled_by_.empty();
  facts.swapped = a.old_stopped;
  facts.rolled_back = back && back->ok();
  a.d.status = DecideEnd(facts);
  using S = store::DeploymentStatus;
  switch (a.d.status) {
    case S::kSucceeded: {
      last_error_.clear();
      if (r.kind == queue::Kind::kRollback && a.d.from_commit != a.d.to_commit) {
        // The version we left is not to come back by itself (pinned when the
        // rollback was asked for; this covers a deployment in between).
        intake_.Pin(a.d.from_commit, "rolled back from by " + a.d.actor);
      }
      if (project_.on_agents()) {
        // What the agents run now; nothing of it is on this machine's disk.
        on_agents_ = a.d;
        asio::co_spawn(
            ctx_.executor,
            PruneArtifacts(*ctx_.fleet, ctx_.record, project_.name, project_.keep_releases),
            asio::detached);
        break;
      }
      supervisor_.ResetAfterDeploy();
      // The running release and the last good one (the same, now) are never pruned.
      auto pruned = releases_.Prune(project_.keep_releases, {a.d.release});
      if (!pruned.ok()) spdlog::warn("project {}: prune: {}", project_.name, pruned.error());
      if (pruned.ok()) rollback_targets_.Forget(*pruned);
      if (ctx_.fleet != nullptr) {
        asio::co_spawn(
            ctx_.executor,
            PruneArtifacts(*ctx_.fleet, ctx_.record, project_.name, project_.keep_releases),
            asio::detached);
      }
      break;
    }
    case S::kInterrupted:
      outcome = Status::Error("anthill stopped during the deployment (" + outcome.message() + ")");
      break;
    case S::kCancelled:
      outcome = Status::Error("cancelled by " + cancelled_by_);
      break;
    default:
      // A failed rollback is part of what went wrong.
      if (back && !back->ok()) outcome = Status::Error(outcome.message() + "; " + back->message());
      last_error_ = outcome.message();
      last_error_is_poll_ = false;
      break;
  }
  if (!a.c.commit.empty() && PinsItsCommit(r.kind, a.d.status)) {
    intake_.Pin(a.c.commit, a.d.status == S::kCancelled
                                ? outcome.message()
                                : std::string(store::ToString(a.d.status)) + " in deployment " +
                                      std::to_string(a.d.id));
  }
  a.d.error = outcome.ok() ? "" : outcome.message();
  a.d.finished_at = anthill::Now();
  intake_.Record(a.d);
  intake_.Forget(a.d.id);
  rollback_targets_.Note(a.d);
  last_deployment_status_ = a.d.status;
  spdlog::info("project {}: deployment {} {}{}{}", project_.name, a.d.id,
               store::ToString(a.d.status), outcome.ok() ? "" : ": ", a.d.error);
}

}  // namespace anthill::deploy
