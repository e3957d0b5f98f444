// What comes in for one project, decided over its queue: automatic offers
// (polls, pushes) are dropped when they add nothing or name a pinned-out
// commit; requests by hand are queued; a newer request supersedes the waiting
// one; a waiting deployment can be cancelled. Every request is recorded as a
// queued deployment first, and every drop as cancelled with why.
//
// Pins: commits whose deployment failed, that a rollback left, or that a
// person cancelled (commit -> why). Polls and pushes do not try them again;
// a newer commit, or a deploy by hand, is needed. Kept in the store.
//
// Intake writes the record (synchronously: a write is made or kept at once,
// see store/record_store.h) and never reads it: what it needs to know (the
// pins, the rows of the deployments in its queue) it keeps, so an action is
// decided without waiting for a database across the network.
//
// Plain decisions: no process, no timer. Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deploy/controller.h"
#include "queue/project_queue.h"
#include "store/candidate.h"
#include "store/record_writer.h"

namespace anthill::deploy {

// What runs now, as far as intake cares.
struct NowRunning {
  bool alive = false;
  std::string version;
  std::string commit;
};

class Intake {
 public:
  // `wake` is called when a request was queued (the worker may start it).
  Intake(std::string project, std::string machine, store::RecordWriter* store,
         std::function<void()> wake);

  // The pins as the record has them (start-up).
  void LoadPins(const std::vector<store::Pin>& pins);

  // Records r as a queued deployment and makes it the waiting request.
  ActionOutcome Enqueue(queue::Request r, const NowRunning& now);
  // Queues an automatically found commit unless it is already running or
  // queued, a rollback is in progress, or it is pinned out.
  ActionOutcome OfferAutomatic(const store::Candidate& c, store::Trigger trigger,
                               const std::string& actor, const NowRunning& now);
  // Cancels the waiting deployment `id` (and pins its commit); nullopt when
  // `id` is not the waiting one.
  std::optional<ActionOutcome> CancelWaiting(int64_t id, const std::string& actor);
  // A push or poll whose commit already runs is recorded cancelled ("already
  // running") and dropped; true when it was. By hand, it is "start it again".
  bool DropIfRedundant(const queue::Request& r, const store::Candidate& c, const NowRunning& now);
  // The running deployment (a deploy by hand) resolved its ref to `c`: the
  // queue knows it, and a waiting automatic deploy of the same commit goes.
  void Resolved(const store::Candidate& c);
  void RecordCancelled(int64_t id, const std::string& why);

  // The row of a deployment in the queue (waiting or running) as last
  // recorded; nullptr when it is not in the queue.
  const store::Deployment* Row(int64_t id) const;
  // Records the running deployment's row (its new state) and remembers it.
  void Record(const store::Deployment& d);
  // The deployment left the queue (it ended): its row is no longer kept.
  void Forget(int64_t id) { rows_.erase(id); }

  void Pin(const std::string& commit, const std::string& reason);
  void Unpin(const std::string& commit);
  const std::map<std::string, std::string>& pins() const { return pins_; }
  const std::string& newest_pin() const { return newest_pin_; }

  queue::ProjectQueue& queue() { return queue_; }
  const queue::ProjectQueue& queue() const { return queue_; }

 private:
  std::string project_;
  std::string machine_;
  store::RecordWriter* store_;
  std::function<void()> wake_;
  queue::ProjectQueue queue_;
  std::map<int64_t, store::Deployment> rows_;  // of the deployments in the queue
  std::map<std::string, std::string> pins_;
  std::string newest_pin_;
};

}  // namespace anthill::deploy
