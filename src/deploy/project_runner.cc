#include "deploy/project_runner.h"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "base/strings.h"
#include "build/environment.h"
#include "deploy/specs.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

ProjectRunner::ProjectRunner(Context ctx, config::Project project)
    : ctx_(std::move(ctx)),
      project_(std::move(project)),
      git_(ctx_.data_dir / "tmp", project_.build_timeout),
      releases_(ctx_.data_dir / "projects" / project_.name),
      steps_(ctx_.store),
      supervisor_(ctx_.executor, ProgramSpecOf(project_, ctx_.data_dir), ctx_.store),
      poller_(ctx_.executor, &git_, PollRuleOf(project_)),
      build_job_(&git_, &releases_, &steps_, BuildSpecOf(project_, ctx_.data_dir)),
      work_wake_(std::make_unique<Event>(ctx_.executor)),
      slot_wake_(std::make_unique<Event>(ctx_.executor)),
      intake_(project_.name, ctx_.machine, ctx_.store, [this] { work_wake_->Set(); }),
      stopper_(std::make_shared<build::CommandStopper>()) {
  if (ctx_.fleet != nullptr) {
    std::vector<std::string> env;
    for (const auto& [k, v] : project_.env) env.push_back(k + "=" + v);
    remote_build_.emplace(*ctx_.fleet, ctx_.record, &releases_, &steps_,
                          BuildSpecOf(project_, ctx_.data_dir), std::move(env),
                          project_.build_labels);
  }
}

ProjectRunner::~ProjectRunner() = default;

const char* ProjectRunner::PhaseName(Phase p) {
  switch (p) {
    case Phase::kWaitingForSlot:
      return "waiting for a build slot";
    case Phase::kBuilding:
      return "building";
    case Phase::kFetching:
      return "fetching on the machines";
    case Phase::kSwapping:
      return "swapping";
    case Phase::kNone:
      break;
  }
  return "";
}

NowRunning ProjectRunner::WhatRuns() const {
  if (project_.on_agents()) {
    if (!on_agents_) return {};
    return {true, on_agents_->to_version, on_agents_->to_commit};
  }
  const supervise::Running& r = supervisor_.running();
  return {r.alive(), r.what.version, r.what.commit};
}

std::string ProjectRunner::RunningRelease() const {
  if (project_.on_agents()) return on_agents_ ? on_agents_->release : "";
  return supervisor_.running().what.release;
}

std::vector<std::string> ProjectRunner::Environment(const store::Candidate& c,
                                                    const std::string& release_dir) const {
  build::Identity id{project_.name, c.commit, c.version, c.ref, ctx_.machine, release_dir};
  return build::ProjectEnvironment(project_.env, id);
}

supervise::Deployed ProjectRunner::DeployedOf(const store::Candidate& c, const std::string& release,
                                              int64_t deployment_id) const {
  const fs::path dir = releases_.PathOf(release);
  return {release, dir, c.version, c.commit, c.ref, Environment(c, dir.string()), deployment_id};
}

void ProjectRunner::Start() {
  started_ = true;
  ++loops_running_;
  asio::co_spawn(
      ctx_.executor, [this]() -> asio::awaitable<void> { co_await Run(); }, asio::detached);
}

void ProjectRunner::Shutdown() {
  shutting_down_ = true;
  stopper_->Stop();
  poller_.Stop();
  supervisor_.Shutdown();
  work_wake_->Set();
  slot_wake_->Set();
  joining_wake_->Set();
}

ProjectState ProjectRunner::State() const {
  ProjectState s;
  s.name = project_.name;
  s.repo = project_.repo;
  s.branch = project_.tags.empty() ? project_.branch : "";
  s.tags = project_.tags;
  s.last_deployment_id = last_deployment_id_;
  s.last_deployment_status = last_deployment_status_;
  s.last_error = last_error_;
  s.pinned_out_commit = intake_.newest_pin();
  s.pinned_out = intake_.pins();
  using store::RunState;
  if (project_.on_agents()) {
    // Nothing runs here: what the agents run, as the newest rollout that
    // reached them all says (GET /api/v1/machines has each machine's).
    s.state = !recovered_                 ? RunState::kStarting
              : intake_.queue().running() ? RunState::kDeploying
              : on_agents_                ? RunState::kRunning
                                          : RunState::kStopped;
    if (on_agents_) {
      s.version = on_agents_->to_version;
      s.commit = on_agents_->to_commit;
      s.release = on_agents_->release;
    }
    return s;
  }
  const supervise::Running& r = supervisor_.running();
  s.state = !recovered_                 ? RunState::kStarting
            : intake_.queue().running() ? RunState::kDeploying
            : r.alive()                 ? RunState::kRunning
            : supervisor_.restarting()  ? RunState::kRestarting
                                        : RunState::kStopped;
  s.health = r.alive() ? r.health : store::Health::kUnknown;
  if (r.alive()) {
    s.version = r.what.version;
    s.commit = r.what.commit;
    s.release = r.what.release;
    s.pid = r.program->pid();
    s.started_at = r.started_at;
  }
  s.restarts = supervisor_.restarts();
  s.last_exit = supervisor_.last_exit();
  s.held = supervisor_.held();
  return s;
}

QueueState ProjectRunner::Queue() const {
  QueueState q;
  q.project = project_.name;
  const queue::ProjectQueue& queue = intake_.queue();
  auto load = [&](const std::optional<queue::Request>& r) -> std::optional<store::Deployment> {
    if (!r) return std::nullopt;
    const store::Deployment* d = intake_.Row(r->deployment_id);
    if (d == nullptr) return std::nullopt;
    return *d;
  };
  q.running = load(queue.running());
  q.waiting = load(queue.waiting());
  if (queue.running()) q.running_phase = PhaseName(phase_);
  if (queue.waiting()) {
    TimePoint ready = queue.ReadyAt(project_.quiet_period);
    if (queue.running()) {
      q.waiting_reason =
          "waiting for deployment " + std::to_string(queue.running()->deployment_id) + " to finish";
    } else if (anthill::Now() < ready) {
      q.waiting_reason =
          "quiet period: starts at " + FormatRfc3339(ready) + " unless another push comes first";
    } else {
      q.waiting_reason = "starting";
    }
  }
  return q;
}

asio::awaitable<void> ProjectRunner::Run() {
  std::optional<store::Deployment> newest = co_await Recover();
  if (newest) FinishInterruptedRollback(*newest);
  if (newest) FinishInterruptedRollout(*newest);
  co_await RestoreWhatRanElsewhere();
  recovered_ = true;
  // On agents nothing of the project runs here to watch.
  if (!project_.on_agents()) supervisor_.StartLoops();
  ++loops_running_;
  asio::co_spawn(
      ctx_.executor, [this]() -> asio::awaitable<void> { co_await WorkLoop(); }, asio::detached);
  if (project_.on_agents()) {
    ++loops_running_;
    asio::co_spawn(
        ctx_.executor, [this]() -> asio::awaitable<void> { co_await WatchJoiningMachines(); },
        asio::detached);
  }
  co_await poller_.Run(
      [this](const store::Candidate& c, store::Trigger trigger, const std::string& actor) {
        (void)intake_.OfferAutomatic(c, trigger, actor, WhatRuns());
      },
      [this](const Status& polled) { OnPolled(polled); });
  --loops_running_;
}

asio::awaitable<void> ProjectRunner::RestoreWhatRanElsewhere() {
  // Taken over from another orchestrator (a fleet), with nothing of the
  // project running here: what last ran well there is deployed first, so
  // that a new commit that fails its checks has a release to roll back to.
  // On agents the programs run on, and are taken over with, the machines.
  if (ctx_.fleet == nullptr || project_.on_agents() || supervisor_.running().alive() ||
      supervisor_.held()) {
    co_return;
  }
  std::string project = project_.name;
  std::optional<store::DeploymentStatus> succeeded = store::DeploymentStatus::kSucceeded;
  auto good = co_await ctx_.record->LatestDeployment(project, succeeded);
  if (!good.ok() || !good->has_value()) co_return;
  const store::Deployment& d = **good;
  if (d.machine == ctx_.machine || d.to_commit.empty()) co_return;
  queue::Request r;
  r.trigger = store::Trigger::kManual;
  r.actor = "take-over (it ran on " + d.machine + ")";
  r.target = store::TargetOf(d);
  spdlog::info("project {}: taken over with nothing running here: first {}, which ran on {}",
               project_.name, d.to_version, d.machine);
  (void)intake_.Enqueue(std::move(r), WhatRuns());
}

void ProjectRunner::OnPolled(const Status& polled) {
  if (!polled.ok()) {
    const std::string error = "poll: " + polled.message() + DiskFullHint();
    if (!poll_failing_ || last_error_ != error)
      spdlog::warn("project {}: {}", project_.name, error);
    poll_failing_ = true;
    last_error_ = error;
    last_error_is_poll_ = true;
    return;
  }
  if (poll_failing_) {
    spdlog::info("project {}: poll works again", project_.name);
    if (last_error_is_poll_) last_error_.clear();
  }
  poll_failing_ = false;
}

asio::awaitable<void> ProjectRunner::WorkLoop() {
  queue::ProjectQueue& queue = intake_.queue();
  while (!shutting_down_) {
    if (!queue.waiting()) {
      work_wake_->Reset();
      co_await work_wake_->Wait(kUntilWoken);
      continue;
    }
    // A burst of pushes settles before anything is built: every new offer
    // moves the start further out.
    TimePoint ready = queue.ReadyAt(project_.quiet_period);
    if (anthill::Now() < ready) {
      work_wake_->Reset();
      co_await work_wake_->Wait(std::chrono::duration_cast<Duration>(ready - anthill::Now()) +
                                Duration(1));
      continue;
    }
    queue::Request r = queue.StartNext();
    cancelled_by_.clear();
    stopper_ = std::make_shared<build::CommandStopper>();
    if (shutting_down_) stopper_->Stop();
    co_await Execute(r);
    phase_ = Phase::kNone;
    queue.FinishRunning();
  }
  --loops_running_;
}

}  // namespace anthill::deploy
