// Holding this orchestrator's projects when several orchestrators share one
// PostgreSQL database (store/project_ownership.h, README "A fleet"). Every
// second it renews the leases this process holds and takes any project of
// its config that no one holds (or whose holder's lease ran out); a project
// taken from a holder that stopped answering has that holder's unfinished
// deployments recorded interrupted before its runner starts here. It also
// takes the actions other orchestrators passed on for its projects and
// applies them.
//
// A process that cannot renew for `fence_after` (the database is out of
// reach) stops its projects' runners (programs keep running): by the time
// its leases run out another orchestrator may take them, and a project must
// never be planned by two at once.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <set>
#include <string>

#include "base/event.h"
#include "base/time.h"
#include "daemon/registry.h"
#include "store/async_record_store.h"
#include "store/project_ownership.h"

namespace anthill::daemon {

class ProjectHolding {
 public:
  struct Options {
    Duration every{1000};        // between renewals
    Duration fence_after{7000};  // below the lease (10 s): see above
    // [artifacts] store = "orchestrator": said in the log once another
    // orchestrator is seen (artifacts kept here cannot reach it).
    bool artifacts_kept_here = false;
  };

  ProjectHolding(boost::asio::any_io_executor executor, store::ProjectOwnership& ownership,
                 store::AsyncRecordStore& record, Registry& registry, store::OrchestratorId me,
                 Options options);

  // Starts the loop, in a coroutine of its own.
  void Start();
  // Ends the loop at its next turn.
  void Stop();
  bool done() const { return !running_; }
  // Gives up every project held (a clean stop, once the runners stopped):
  // another orchestrator takes them at its next renewal.
  boost::asio::awaitable<void> ReleaseAll();

 private:
  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<void> Turn();
  boost::asio::awaitable<void> TakeOver(std::string project);

  boost::asio::any_io_executor executor_;
  store::ProjectOwnership& ownership_;
  store::AsyncRecordStore& record_;
  Registry& registry_;
  store::OrchestratorId me_;
  Options options_;
  std::unique_ptr<Event> wake_;
  std::chrono::steady_clock::time_point last_renewed_{};
  bool failing_ = false;
  bool warned_shared_ = false;
  bool stopping_ = false;
  bool running_ = false;
};

}  // namespace anthill::daemon
