// What a person or a push asks of one project, and what start-up resumes.
#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include "base/strings.h"
#include "deploy/project_runner.h"

namespace anthill::deploy {

namespace asio = boost::asio;

namespace {
ActionOutcome FromHand(const supervise::HandOutcome& out) {
  using K = supervise::HandOutcome::Kind;
  switch (out.kind) {
    case K::kStarted:
      return ActionOutcome::Accepted(0, out.message);
    case K::kConflict:
      return ActionOutcome::Refused(StatusCode::kConflict, out.message);
    case K::kDone:
      break;
  }
  return ActionOutcome::Done(0, out.message);
}
}  // namespace

ActionOutcome ProjectRunner::RequestDeploy(const std::string& ref, const std::string& actor) {
  if (shutting_down_)
    return ActionOutcome::Refused(StatusCode::kUnavailable, "anthill is stopping");
  if (!ref.empty()) {
    std::string name = ref.rfind("refs/", 0) == 0 ? ref.substr(5) : ref;
    if (Status s = git::ValidateBranchName(name); !s.ok()) {
      return ActionOutcome::Refused(StatusCode::kInvalidArgument, "bad ref: " + s.message());
    }
  }
  queue::Request r;
  r.trigger = store::Trigger::kManual;
  r.actor = actor;
  r.target.ref = ref;
  r.manual = true;
  return intake_.Enqueue(std::move(r), WhatRuns());
}

ActionOutcome ProjectRunner::RequestRollback(const std::string& version, const std::string& actor) {
  if (shutting_down_)
    return ActionOutcome::Refused(StatusCode::kUnavailable, "anthill is stopping");
  // The newest deployment that made the wanted release: by default the last
  // good one other than what runs now; else the named version (or release dir).
  // On agents a release is an artifact: whether it is still kept, the
  // rollback finds out (and fails saying so).
  const NowRunning now = WhatRuns();
  const bool agents = project_.on_agents();
  std::optional<store::Deployment> target = rollback_targets_.Find(
      version, RunningRelease(),
      [this, agents](const std::string& r) { return agents || releases_.Exists(r); });
  if (!target) {
    return ActionOutcome::Refused(
        StatusCode::kNotFound,
        version.empty() ? "no earlier good release of " + project_.name + " to roll back to"
                        : "no release of " + project_.name + " with version '" + version +
                              "' (see anthill deployments " + project_.name + ")");
  }
  // What the person leaves must not come back by itself, even when Anthill
  // stops before the rollback ends; what they go back to is theirs to run.
  if (now.alive && !now.commit.empty() && now.commit != target->to_commit) {
    intake_.Pin(now.commit, "rolled back from by " + actor);
  }
  intake_.Unpin(target->to_commit);
  return intake_.Enqueue(RollbackTo(*target, actor), WhatRuns());
}

ActionOutcome ProjectRunner::Notify(const std::string& ref, const std::string& commit,
                                    store::Trigger trigger, const std::string& actor) {
  if (shutting_down_)
    return ActionOutcome::Refused(StatusCode::kUnavailable, "anthill is stopping");
  if (!ref.empty() && !project_.tags.empty()) {
    // Tag projects deploy the newest matching tag, whichever was pushed, and
    // a pushed annotated tag names a tag object, not a commit: ask git.
    std::string tag = ref.rfind("refs/tags/", 0) == 0 ? ref.substr(10) : "";
    if (tag.empty() || fnmatch(project_.tags.c_str(), tag.c_str(), 0) != 0) {
      return ActionOutcome::Done(0, "ref " + ref + " does not match tags '" + project_.tags + "'");
    }
  }
  const std::string rule = poller_.RuleRef();
  if (project_.tags.empty() && !ref.empty() && ref != rule && ref != project_.branch) {
    return ActionOutcome::Done(0, "ref " + ref + " is not the deployed branch " + rule);
  }
  if (project_.tags.empty() && IsFullSha(commit)) {
    store::Candidate c{rule, commit, git::VersionLabel(rule, commit)};
    return intake_.OfferAutomatic(c, trigger, actor, WhatRuns());
  }
  poller_.PollNow(trigger, actor);
  return ActionOutcome::Accepted(0, "looking at " + project_.repo + " now");
}

std::optional<ActionOutcome> ProjectRunner::Cancel(int64_t id, const std::string& actor) {
  if (auto done = intake_.CancelWaiting(id, actor)) return done;
  const auto& running = intake_.queue().running();
  if (!running || running->deployment_id != id) return std::nullopt;
  if (phase_ == Phase::kSwapping) {
    return ActionOutcome::Refused(StatusCode::kConflict,
                                  "deployment " + std::to_string(id) +
                                      " is already swapping the program; use rollback instead",
                                  id);
  }
  if (cancelled_by_.empty()) {
    cancelled_by_ = actor;
    stopper_->Stop();
    slot_wake_->Set();
  }
  return ActionOutcome::Accepted(
      id, "deployment " + std::to_string(id) + " is being cancelled (" + PhaseName(phase_) + ")");
}

ActionOutcome ProjectRunner::StopProgram(const std::string& actor) {
  if (project_.on_agents()) {
    return ActionOutcome::Refused(
        StatusCode::kConflict,
        project_.name + " runs on agents: stopping it by hand is not built yet");
  }
  return FromHand(supervisor_.StopByHand(actor));
}

ActionOutcome ProjectRunner::StartProgram(const std::string& actor) {
  if (project_.on_agents()) {
    return ActionOutcome::Refused(
        StatusCode::kConflict,
        project_.name + " runs on agents: starting it by hand is not built yet");
  }
  return FromHand(supervisor_.StartByHand(actor));
}

// --- Start-up ----------------------------------------------------------------

asio::awaitable<std::optional<store::Deployment>> ProjectRunner::Recover() {
  // What the record says about the last decisions: the latest deployment that
  // ended for a reason of its own (not cancelled or interrupted).
  store::DeploymentFilter f;
  f.project = project_.name;
  f.limit = 20;
  auto recent = co_await ctx_.record->ListDeployments(f);
  std::optional<store::Deployment> newest;
  if (!recent.ok()) {
    spdlog::error("project {}: cannot read its deployments: {}", project_.name, recent.error());
  } else {
    if (!recent->empty()) {
      last_deployment_id_ = recent->front().id;
      last_deployment_status_ = recent->front().status;
      newest = recent->front();
    }
    for (const auto& d : *recent) {
      using S = store::DeploymentStatus;
      if (d.status == S::kFailed || d.status == S::kRolledBack) {
        last_error_ = d.error;
        break;
      }
      if (d.status == S::kSucceeded) break;
    }
  }
  std::string project = project_.name;
  auto pins = co_await ctx_.record->ListPins(project);
  if (pins.ok()) {
    intake_.LoadPins(*pins);
  } else {
    spdlog::error("project {}: cannot read pinned commits: {}", project_.name, pins.error());
  }
  co_await LoadRollbackTargets();
  if (project_.on_agents()) {
    // Nothing of it runs here: no program to adopt. What the agents run is
    // the newest deployment that reached them all (one with machines).
    co_await RecoverOnAgents();
    co_return newest;
  }
  co_await supervisor_.Recover([this](supervise::Deployed& what) {
    if (what.release.empty() || !releases_.Exists(what.release)) return false;
    what = DeployedOf({poller_.RefOfVersion(what.version), what.commit, what.version}, what.release,
                      what.deployment_id);
    return true;
  });
  // What runs is the truth: a crash between switching `current` and
  // starting the new version leaves `current` ahead of it.
  const std::string& release = supervisor_.running().what.release;
  if (!release.empty() && releases_.Current() != release && releases_.Exists(release)) {
    (void)releases_.SwitchCurrent(release);
  }
  co_return newest;
}

queue::Request ProjectRunner::RollbackTo(const store::Deployment& made, const std::string& actor) {
  queue::Request r;
  r.kind = queue::Kind::kRollback;
  r.trigger = store::Trigger::kRollback;
  r.actor = actor;
  r.target = store::TargetOf(made);
  r.release = made.release;
  r.manual = true;
  return r;
}

asio::awaitable<void> ProjectRunner::RecoverOnAgents() {
  if (ctx_.fleet == nullptr || ctx_.fleet->agents == nullptr) co_return;
  std::string project = project_.name;
  std::optional<store::DeploymentStatus> succeeded = store::DeploymentStatus::kSucceeded;
  auto good = co_await ctx_.record->LatestDeployment(project, succeeded);
  if (!good.ok()) {
    spdlog::error("project {}: cannot read what its agents run: {}", project_.name, good.error());
    co_return;
  }
  if (!good->has_value()) co_return;
  // A project that ran on the orchestrator's machine before runs nowhere on
  // the agents yet.
  const int64_t id = (*good)->id;
  auto machines = co_await ctx_.fleet->agents->MachinesOf(id);
  if (machines.ok() && !machines->empty()) on_agents_ = **good;
}

asio::awaitable<void> ProjectRunner::LoadRollbackTargets() {
  // Newest first, until every release on disk has its newest deployment and
  // its newest good one (older history changes nothing), or the record ends.
  // On agents nothing is on disk here: the newest 1000 deployments say
  // which releases there were (whether their artifacts are still kept, the
  // rollback finds out).
  const std::vector<std::string> on_disk = releases_.List();
  const bool agents = project_.on_agents();
  store::DeploymentFilter f;
  f.project = project_.name;
  f.limit = 1000;
  if (agents) {
    auto list = co_await ctx_.record->ListDeployments(f);
    if (!list.ok()) {
      spdlog::error("project {}: cannot read which deployment made each release: {}", project_.name,
                    list.error());
      co_return;
    }
    for (const auto& d : *list) {
      if (!d.release.empty()) rollback_targets_.Note(d);
    }
    co_return;
  }
  for (int page = 0; page < 100 && !rollback_targets_.Knows(on_disk); ++page) {
    auto list = co_await ctx_.record->ListDeployments(f);
    if (!list.ok()) {
      spdlog::error("project {}: cannot read which deployment made each release: {}", project_.name,
                    list.error());
      co_return;
    }
    for (const auto& d : *list) {
      if (releases_.Exists(d.release)) rollback_targets_.Note(d);
    }
    if (static_cast<int>(list->size()) < f.limit) break;
    f.before_id = list->back().id;
  }
}

void ProjectRunner::FinishInterruptedRollout(const store::Deployment& d) {
  // A rollout an orchestrator did not end (killed, or stopped) mid-way: some
  // machines may run the release, others not. Whoever holds the project now
  // rolls the same release out again: the machines that have it answer at
  // once, the others fetch and switch, batch by batch. A deployment stopped
  // before its build ended needs nothing here (the poller offers its commit
  // again); a rollback has its own way back (below).
  if (!project_.on_agents() || d.status != store::DeploymentStatus::kInterrupted ||
      d.trigger == store::Trigger::kRollback || d.release.empty() || d.to_commit.empty()) {
    return;
  }
  if (on_agents_ && on_agents_->release == d.release) return;  // it reached them all
  queue::Request r;
  r.trigger = d.trigger;
  r.manual = true;  // its commit may run on some machines: not dropped as redundant
  r.actor = "finishing deployment " + std::to_string(d.id) + " (" + d.actor + ")";
  r.target = store::TargetOf(d);
  spdlog::info("project {}: finishing the rollout of {} that deployment {} did not end",
               project_.name, d.to_version, d.id);
  (void)intake_.Enqueue(std::move(r), WhatRuns());
}

void ProjectRunner::FinishInterruptedRollback(const store::Deployment& d) {
  if (d.trigger != store::Trigger::kRollback || d.status != store::DeploymentStatus::kInterrupted) {
    return;
  }
  if (project_.on_agents()) {
    // The agents may be anywhere between the two: the rollout again takes
    // each to it (the ones there already answer at once).
    if (on_agents_ && on_agents_->release == d.release) return;
    spdlog::info("project {}: finishing the rollback to {} that deployment {} did not end",
                 project_.name, d.to_version, d.id);
    (void)intake_.Enqueue(RollbackTo(d, d.actor), WhatRuns());
    return;
  }
  const supervise::Running& now = supervisor_.running();
  const bool there = now.alive() && now.what.commit == d.to_commit;
  if (there || !releases_.Exists(d.release)) return;
  spdlog::info("project {}: finishing the rollback to {} that deployment {} did not end",
               project_.name, d.to_version, d.id);
  (void)intake_.Enqueue(RollbackTo(d, d.actor), WhatRuns());
}

}  // namespace anthill::deploy
