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
// Plain decisions: no process, no timer. Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "deploy/controller.h"
#include "queue/project_queue.h"
#include "store/candidate.h"
#include "store/record_store.h"

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
  Intake(std::string project, std::string machine, store::RecordStore* store,
         std::function<void()> wake);

  // Reads the pins from the store (start-up).
  void LoadPins();

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

  void Pin(const std::string& commit, const std::string& reason);
  void Unpin(const std::string& commit);
  const std::map<std::string, std::string>& pins() const { return pins_; }
  const std::string& newest_pin() const { return newest_pin_; }

  queue::ProjectQueue& queue() { return queue_; }
  const queue::ProjectQueue& queue() const { return queue_; }

 private:
  std::string project_;
  std::string machine_;
  store::RecordStore* store_;
  std::function<void()> wake_;
  queue::ProjectQueue queue_;
  std::map<std::string, std::string> pins_;
  std::string newest_pin_;
};

}  // namespace anthill::deploy
