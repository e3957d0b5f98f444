// Who wants to know that a record changed: the live web UI (server-sent
// events) subscribes; a ChangeSource publishes. The SQLite store publishes
// after each write that commits; a PostgreSQL backend will publish what
// LISTEN/NOTIFY tells it, so a change made by another orchestrator reaches
// this one's subscribers too. Subscribers depend on ChangeSource alone.
// Thread: the io_context thread, like the Store. Callbacks run inside the
// write that caused them, so they must be quick and must not write to the
// store (the event stream only notes the id and wakes its writer).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace anthill::store {

struct Change {
  enum class Kind { kDeployment, kProject };
  Kind kind = Kind::kDeployment;
  int64_t deployment_id = 0;  // kDeployment: created, updated, a step started or ended
  std::string project;        // kProject: its program started, stopped, exited, was held
};

class ChangeFeed {
 public:
  using Callback = std::function<void(const Change&)>;

  // Ends the subscription when destroyed; safe to outlive the feed.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&&) = default;
    Subscription& operator=(Subscription&& other);
    ~Subscription();
    void Reset();

   private:
    friend class ChangeFeed;
    std::weak_ptr<std::map<int64_t, Callback>> subscribers_;
    int64_t id_ = 0;
  };

  ChangeFeed();
  Subscription Subscribe(Callback callback);
  void Publish(const Change& change) const;
  size_t subscriber_count() const { return subscribers_->size(); }

 private:
  std::shared_ptr<std::map<int64_t, Callback>> subscribers_;
  int64_t next_id_ = 1;
};

// Where changes to the record and to a machine's programs are heard.
class ChangeSource {
 public:
  virtual ~ChangeSource() = default;
  // Every committed change to a deployment, its steps or a project's
  // program (not the start-up InterruptUnfinished: nobody listens yet).
  virtual ChangeFeed& changes() = 0;
};

}  // namespace anthill::store
