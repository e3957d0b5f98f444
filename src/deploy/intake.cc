#include "deploy/intake.h"

#include <spdlog/spdlog.h>

namespace anthill::deploy {

Intake::Intake(std::string project, std::string machine, store::RecordWriter* store,
               std::function<void()> wake)
    : project_(std::move(project)),
      machine_(std::move(machine)),
      store_(store),
      wake_(std::move(wake)) {}

void Intake::LoadPins(const std::vector<store::Pin>& pins) {
  for (const auto& p : pins) pins_.emplace(p.commit, p.reason);
  if (!pins.empty()) newest_pin_ = pins.front().commit;
}

void Intake::Pin(const std::string& commit, const std::string& reason) {
  if (commit.empty()) return;
  newest_pin_ = commit;
  if (!pins_.emplace(commit, reason).second) return;
  Status s = store_->AddPin({project_, commit, reason, Now()});
  if (!s.ok()) spdlog::error("project {}: cannot record pin: {}", project_, s.message());
  spdlog::info("project {}: {} pinned out of automatic deploys: {}", project_, commit, reason);
}

void Intake::Unpin(const std::string& commit) {
  if (newest_pin_ == commit) newest_pin_.clear();
  if (pins_.erase(commit) == 0) return;
  Status s = store_->RemovePin(project_, commit);
  if (!s.ok()) spdlog::error("project {}: cannot record unpin: {}", project_, s.message());
}

const store::Deployment* Intake::Row(int64_t id) const {
  auto it = rows_.find(id);
  return it == rows_.end() ? nullptr : &it->second;
}

void Intake::Record(const store::Deployment& d) {
  Status s = store_->UpdateDeployment(d);
  if (!s.ok()) {
    spdlog::error("project {}: cannot record deployment {}: {}", project_, d.id, s.message());
  }
  if (auto it = rows_.find(d.id); it != rows_.end()) {
    it->second = d;
    it->second.steps.clear();
  }
}

void Intake::RecordCancelled(int64_t id, const std::string& why) {
  auto it = rows_.find(id);
  if (it == rows_.end()) return;
  store::Deployment row = std::move(it->second);
  rows_.erase(it);
  row.status = store::DeploymentStatus::kCancelled;
  row.error = why;
  row.finished_at = Now();
  Status s = store_->UpdateDeployment(row);
  if (!s.ok()) spdlog::error("project {}: cannot record cancel: {}", project_, s.message());
  spdlog::info("project {}: deployment {} cancelled: {}", project_, id, why);
}

ActionOutcome Intake::Enqueue(queue::Request r, const NowRunning& now) {
  store::Deployment d;
  d.project = project_;
  d.machine = machine_;
  d.trigger = r.trigger;
  d.actor = r.actor;
  store::SetTarget(d, r.target);
  d.release = r.release;
  if (now.alive) {
    d.from_version = now.version;
    d.from_commit = now.commit;
  }
  d.status = store::DeploymentStatus::kQueued;
  d.started_at = Now();
  auto id = store_->CreateDeployment(d);
  if (!id.ok()) {
    spdlog::error("project {}: cannot record a deployment: {}", project_, id.error());
    return ActionOutcome::Refused(StatusCode::kInternal, "store: " + id.error());
  }
  r.deployment_id = *id;
  r.queued_at = d.started_at;
  d.id = *id;
  rows_[*id] = d;
  const std::string label = queue::Label(r);
  spdlog::info("project {}: deployment {} queued: {} ({} by {})", project_, *id, label,
               store::ToString(r.trigger), r.actor);
  if (auto old = queue_.Offer(std::move(r))) {
    RecordCancelled(old->deployment_id, "superseded by " + label);
  }
  wake_();
  return ActionOutcome::Accepted(*id, "deployment " + std::to_string(*id) + " queued: " + label);
}

ActionOutcome Intake::OfferAutomatic(const store::Candidate& c, store::Trigger trigger,
                                     const std::string& actor, const NowRunning& now) {
  // What will run once the queue drains: a push of that commit adds nothing.
  const std::string& ahead = queue_.waiting()   ? queue_.waiting()->target.commit
                             : queue_.running() ? queue_.running()->target.commit
                                                : now.commit;
  if (c.commit == ahead || queue_.Covers(c.commit)) {
    return ActionOutcome::Done(0, c.version + " is already running or queued");
  }
  auto rolling_back = [](const std::optional<queue::Request>& r) {
    return r && r->kind == queue::Kind::kRollback;
  };
  if (rolling_back(queue_.running()) || rolling_back(queue_.waiting())) {
    // A person asked to go back; a push of what they left must not undo it.
    return ActionOutcome::Done(0, "a rollback is in progress; " + c.version + " waits");
  }
  if (auto pin = pins_.find(c.commit); pin != pins_.end()) {
    return ActionOutcome::Done(0, c.version + " is pinned out (" + pin->second +
                                      "); deploy it by hand or push a newer commit");
  }
  queue::Request r;
  r.trigger = trigger;
  r.actor = actor;
  r.target = c;
  return Enqueue(std::move(r), now);
}

std::optional<ActionOutcome> Intake::CancelWaiting(int64_t id, const std::string& actor) {
  auto r = queue_.RemoveWaiting(id);
  if (!r) return std::nullopt;
  const std::string why = "cancelled by " + actor;
  RecordCancelled(id, why);
  // A person said no to this commit: pushes and polls leave it alone too.
  if (r->kind == queue::Kind::kDeploy && !r->target.commit.empty()) Pin(r->target.commit, why);
  return ActionOutcome::Done(id, "deployment " + std::to_string(id) + " cancelled");
}

bool Intake::DropIfRedundant(const queue::Request& r, const store::Candidate& c,
                             const NowRunning& now) {
  // By hand, a person may mean "start it again"; a push or poll never does.
  if (r.manual || r.kind != queue::Kind::kDeploy || c.commit.empty()) return false;
  if (!now.alive || now.commit != c.commit) return false;
  RecordCancelled(r.deployment_id, c.version + " is already running; nothing to deploy");
  return true;
}

void Intake::Resolved(const store::Candidate& c) {
  queue::Request* running = queue_.mutable_running();
  if (!running) return;
  // Now the poller knows what is being deployed, and does not queue it again.
  running->target = c;
  const auto& waiting = queue_.waiting();
  if (waiting && !waiting->manual && waiting->kind == queue::Kind::kDeploy &&
      waiting->target.commit == c.commit) {
    const int64_t dropped = waiting->deployment_id;
    (void)queue_.RemoveWaiting(dropped);
    RecordCancelled(dropped, c.version + " is already being deployed by deployment " +
                                 std::to_string(running->deployment_id));
  }
}

}  // namespace anthill::deploy
