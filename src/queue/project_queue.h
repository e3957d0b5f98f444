// The build queue of one project: at most one deployment running and one
// waiting, and the waiting one is always the newest request (coalescing).
// Pure bookkeeping: the deploy side records what this decides.
// Thread: the io_context thread that owns the project.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/time.h"
#include "store/candidate.h"
#include "store/records.h"

namespace anthill::queue {

enum class Kind { kDeploy, kRollback };

struct Request {
  int64_t deployment_id = 0;  // its row, recorded as queued when offered
  Kind kind = Kind::kDeploy;
  store::Trigger trigger = store::Trigger::kPoll;
  std::string actor;
  // What it deploys: ref empty is the project's rule; commit empty means
  // resolve the ref when it starts; version is known once the commit is.
  store::Candidate target;
  std::string release;  // rollback: the release dir to return to
  bool manual = false;  // by hand: deploys even a commit that failed before
  TimePoint queued_at{};
};

// How a request is named in messages: its version, else its ref, else "the
// project's rule".
std::string Label(const Request& r);

class ProjectQueue {
 public:
  // Makes r the waiting request. Returns the one it replaced, which the caller
  // records as cancelled ("superseded by <Label(r)>").
  std::optional<Request> Offer(Request r);

  // True when an automatic trigger for `commit` adds nothing: the running or
  // the waiting request already deploys it.
  bool Covers(std::string_view commit) const;

  // Moves the waiting request to running and returns it. REQUIRES: waiting().
  Request& StartNext();
  // The running request ended (whatever its outcome).
  void FinishRunning();
  // Removes the waiting request if its deployment id is `id`.
  std::optional<Request> RemoveWaiting(int64_t id);

  const std::optional<Request>& waiting() const { return waiting_; }
  const std::optional<Request>& running() const { return running_; }
  Request* mutable_running() { return running_ ? &*running_ : nullptr; }

  // When the waiting request may start under a quiet period: `quiet` after
  // the last offer (a burst of pushes settles first).
  TimePoint ReadyAt(Duration quiet) const { return last_offer_ + quiet; }

 private:
  std::optional<Request> running_;
  std::optional<Request> waiting_;
  TimePoint last_offer_{};
};

}  // namespace anthill::queue
