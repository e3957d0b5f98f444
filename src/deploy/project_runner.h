// One project's coordinator: its poller (watch/) offers commits, its intake
// decides what is queued, its worker runs one deployment at a time through a
// build job and a swap, and its supervisor (supervise/) owns what runs.
// Everything is recorded in the store as it happens.
//
// A project that runs on agents (config::Project::on_agents(), in a fleet)
// has nothing on this machine: its build goes through the build queue
// without a download here, and a rollout (rollout.h) to its agents takes
// the swap's place; the supervisor is never started.
//
// Thread: the io_context thread owns a ProjectRunner and everything it
// touches. Its coroutines (the poller, the worker, the supervisor's loops)
// share state only between co_awaits, so no lock is needed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/event.h"
#include "build/step_runner.h"
#include "config/config.h"
#include "deploy/build_job.h"
#include "deploy/controller.h"
#include "deploy/intake.h"
#include "deploy/remote_build.h"
#include "deploy/rollback_targets.h"
#include "deploy/step_sink.h"
#include "git/git.h"
#include "queue/build_slots.h"
#include "release/releases.h"
#include "store/store.h"
#include "supervise/supervisor.h"
#include "watch/poller.h"

namespace anthill::deploy {

// What every project shares: the store, where data lives, who we are, and
// the global bound on builds. The record is written through `store`
// (synchronous: made or kept at once) and read through `record` (awaited:
// it may be across a network).
struct Context {
  boost::asio::any_io_executor executor;
  store::Store* store = nullptr;
  store::AsyncRecordStore* record = nullptr;
  std::filesystem::path data_dir;
  std::string machine;
  queue::BuildSlots* build_slots = nullptr;
  // Set: builds are the fleet's builders' (remote_build.h), not this
  // process's; build_slots are then not used.
  const Fleet* fleet = nullptr;
};

class ProjectRunner {
 public:
  ProjectRunner(Context ctx, config::Project project);
  ~ProjectRunner();

  const config::Project& project() const { return project_; }

  // Adopts the program a previous Anthill started (or starts the current
  // release again), then polls and deploys until Shutdown().
  void Start();
  // Stops polling; a build or test in flight is stopped and its deployment
  // recorded as interrupted. The running program is left alone.
  void Shutdown();

  ProjectState State() const;
  QueueState Queue() const;
  // True once Shutdown() has taken effect and nothing of this project is in flight.
  bool done() const { return loops_running_ == 0 && started_; }

  // Actions (see Controller).
  ActionOutcome RequestDeploy(const std::string& ref, const std::string& actor);
  ActionOutcome RequestRollback(const std::string& version, const std::string& actor);
  ActionOutcome Notify(const std::string& ref, const std::string& commit, store::Trigger trigger,
                       const std::string& actor);
  // Cancels deployment `id` if it is this project's; nullopt when it is not.
  std::optional<ActionOutcome> Cancel(int64_t id, const std::string& actor);
  // Stops the program on purpose (it stays stopped, across Anthill restarts,
  // until StartProgram or a new deployment), or starts the current release.
  ActionOutcome StopProgram(const std::string& actor);
  ActionOutcome StartProgram(const std::string& actor);

 private:
  struct Attempt;
  // Where the running deployment is. Past kSwapping the old program may be
  // stopped (on agents: a machine may have switched): no cancel, no
  // automatic restart in between.
  enum class Phase { kNone, kWaitingForSlot, kBuilding, kFetching, kSwapping };
  static const char* PhaseName(Phase p);

  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<void> WorkLoop();
  // The record's last decisions, the pins, what runs (supervise/); returns
  // the project's newest deployment, if it has one.
  boost::asio::awaitable<std::optional<store::Deployment>> Recover();
  // On agents, in place of the supervisor's recovery: what they run, from
  // the record.
  boost::asio::awaitable<void> RecoverOnAgents();
  // On agents: a target never told the project (it joined since the last
  // rollout) gets what runs, by a deployment of its own (joining_machines.cc).
  boost::asio::awaitable<void> WatchJoiningMachines();
  // Which deployment made each release on disk, from the record.
  boost::asio::awaitable<void> LoadRollbackTargets();
  // A rollback a person asked for that Anthill stopped during (or before it
  // started) is asked for again: it is what they wanted running. `newest` is
  // the project's newest deployment.
  void FinishInterruptedRollback(const store::Deployment& newest);
  // On agents: a rollout left mid-way (its orchestrator killed or stopped)
  // is rolled out again to every target (actions.cc).
  void FinishInterruptedRollout(const store::Deployment& newest);
  // In a fleet, a project taken over with nothing running here: queues what
  // last succeeded on another machine, before the poller's newest commit.
  boost::asio::awaitable<void> RestoreWhatRanElsewhere();
  // A rollback to the release deployment `made` built (no build, by hand).
  static queue::Request RollbackTo(const store::Deployment& made, const std::string& actor);

  // One deployment (deployment.cc): resolve, build or reuse, swap, record.
  boost::asio::awaitable<void> Execute(queue::Request r);
  boost::asio::awaitable<Status> Build(Attempt& a);
  boost::asio::awaitable<bool> AcquireBuildSlot();
  // The swap, and the rollback (`back`) when it failed.
  boost::asio::awaitable<Status> SwapIn(Attempt& a, std::optional<Status>& back);
  // On agents, in the swap's place: the rollout of the attempt's release;
  // `back` is ok when every machine switched went back after a failure.
  boost::asio::awaitable<Status> RollOut(Attempt& a, std::optional<Status>& back);
  // Why a project on agents cannot be deployed by this process, or ok.
  Status CanRollOut() const;
  void Finish(Attempt& a, const queue::Request& r, Status outcome,
              const std::optional<Status>& back);
  void OnPolled(const Status& polled);

  NowRunning WhatRuns() const;
  // The release that runs: the program's here, or on agents the newest
  // rollout that succeeded ("" for none).
  std::string RunningRelease() const;
  bool Cancelled() const { return shutting_down_ || !cancelled_by_.empty(); }
  // "; the data dir /srv/anthill has 0 bytes free" when it is (nearly) full.
  std::string DiskFullHint() const;
  std::filesystem::path BuildLog(int64_t deployment_id) const;
  // What a release of `c` runs with (dir empty: build and test).
  supervise::Deployed DeployedOf(const store::Candidate& c, const std::string& release,
                                 int64_t deployment_id) const;
  std::vector<std::string> Environment(const store::Candidate& c,
                                       const std::string& release_dir) const;

  Context ctx_;
  config::Project project_;
  git::Git git_;
  release::Releases releases_;
  StoreStepSink steps_;
  supervise::Supervisor supervisor_;
  watch::Poller poller_;
  BuildJob build_job_;
  std::optional<RemoteBuild> remote_build_;  // when ctx_.fleet is set
  std::unique_ptr<Event> work_wake_;
  std::unique_ptr<Event> slot_wake_;
  Intake intake_;
  RollbackTargets rollback_targets_;

  int64_t last_deployment_id_ = 0;
  std::optional<store::DeploymentStatus> last_deployment_status_;
  std::string last_error_;           // of the last failed deployment or poll
  bool last_error_is_poll_ = false;  // cleared when polling works again
  // On agents: the newest deployment rolled out to every target, which is
  // what they run as far as the record says.
  std::optional<store::Deployment> on_agents_;
  // Ends WatchJoiningMachines' wait at Shutdown.
  std::unique_ptr<Event> joining_wake_ = std::make_unique<Event>(ctx_.executor);
  std::set<std::string> offered_;  // machines given on_agents_'s release as joiners
  int64_t offered_for_ = 0;        // the deployment offered_ is about
  // The commit whose rollout found no machine to run on: unpinned and
  // looked at again once targets answer ("" when none).
  std::string waiting_for_machines_;
  bool poll_failing_ = false;

  Phase phase_ = Phase::kNone;
  std::string cancelled_by_;                        // set when the running deployment is cancelled
  std::shared_ptr<build::CommandStopper> stopper_;  // the running deployment's commands

  bool started_ = false;
  bool recovered_ = false;
  bool shutting_down_ = false;
  int loops_running_ = 0;
};

}  // namespace anthill::deploy
