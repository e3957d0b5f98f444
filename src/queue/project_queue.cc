#include "queue/project_queue.h"

#include <cassert>

namespace anthill::queue {

std::string Label(const Request& r) {
  if (!r.target.version.empty()) return r.target.version;
  if (!r.target.ref.empty()) return r.target.ref;
  return "the project's rule";
}

std::optional<Request> ProjectQueue::Offer(Request r) {
  std::optional<Request> replaced = std::move(waiting_);
  last_offer_ = r.queued_at;
  waiting_ = std::move(r);
  return replaced;
}

bool ProjectQueue::Covers(std::string_view commit) const {
  if (commit.empty()) return false;
  auto deploys = [&](const std::optional<Request>& r) {
    return r && r->kind == Kind::kDeploy && r->target.commit == commit;
  };
  return deploys(running_) || deploys(waiting_);
}

Request& ProjectQueue::StartNext() {
  assert(waiting_);
  running_ = std::move(waiting_);
  waiting_.reset();
  return *running_;
}

void ProjectQueue::FinishRunning() { running_.reset(); }

std::optional<Request> ProjectQueue::RemoveWaiting(int64_t id) {
  if (!waiting_ || waiting_->deployment_id != id) return std::nullopt;
  std::optional<Request> out = std::move(waiting_);
  waiting_.reset();
  return out;
}

}  // namespace anthill::queue
