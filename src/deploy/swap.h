// The swap of one deployment: the new release takes the running program's
// place, is checked, and on failure the previous one comes back.
//   stop -> start -> healthcheck                (the default)
//   start -> ready -> stop                      (zero-downtime: `listen` set)
// Depends on supervise/ (what runs) and release/ (the `current` link) only,
// so that it can run on an agent in a fleet.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "base/status.h"
#include "deploy/step_sink.h"
#include "release/releases.h"
#include "supervise/supervisor.h"

namespace anthill::deploy {

struct SwapPlan {
  int64_t deployment_id = 0;
  supervise::Deployed target;  // what is to run (its release is built)
  // A rollback returns to a release that passed its check before: its
  // program is recorded at once, so a restart of Anthill finishes it.
  bool rollback = false;
  bool zero_downtime = false;  // `listen` set: the old one serves until the new one is ready
};

class Swap {
 public:
  Swap(supervise::Supervisor* supervisor, release::Releases* releases, StepSink* steps,
       std::string project, SwapPlan plan);

  // Ok when the new release runs and passed its checks.
  boost::asio::awaitable<Status> In();
  // After In failed: the previous release runs again (ok), or why not.
  boost::asio::awaitable<Status> Back();
  // The old program was stopped: past this, cancelling means rolling back.
  bool old_stopped() const { return old_stopped_; }

 private:
  boost::asio::awaitable<Status> InWithoutDowntime();
  // The "start" step: the target's release started (recorded as the
  // candidate unless it is a rollback).
  boost::asio::awaitable<Status> StartStep();
  // Points `current` at the release and starts it.
  boost::asio::awaitable<Status> StartRelease(const supervise::Deployed& what, bool verified);

  supervise::Supervisor* supervisor_;
  release::Releases* releases_;
  StepSink* steps_;
  std::string project_;
  SwapPlan plan_;
  supervise::Running previous_;  // what ran before, to come back to
  bool old_stopped_ = false;
};

}  // namespace anthill::deploy
