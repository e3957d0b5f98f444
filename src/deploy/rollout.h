// One deployment's rollout to the agents of a project that runs on them
// (config::Project::on_agents(); README, "A fleet"), run by the orchestrator
// holding the project. It speaks to the agents only through their desired
// state and their reports in store::AgentFleet (level-triggered: an agent
// that was away converges to the newest desired state when it is back).
//
//   targets  the registered, unrevoked agents the project's machines and
//            labels name, by name; none: the deployment fails.
//   phase 1  every target's desired state gets fetch = [release] (its run
//            and program left as they are); each reports it has the
//            release (fetched), or why not (failed), or stays silent past
//            agent_timeout (lost). Any failure ends the deployment before a
//            machine switches (their desired state goes back to what it
//            was).
//   phase 2  batch by batch, in name order: the batch's desired run is the
//            release, with the new program; each machine reports that run
//            succeeded (it stayed healthy for min_healthy), failed, or is
//            lost. A batch all succeeded: `pause`, then the next. A failure:
//            on_failure "halt" stops there (later batches skipped, switched
//            machines left on the release); "rollback" sets every machine
//            switched back to the run and program it had before (rollback =
//            true) and waits for them.
//
// Every machine's part is a store::DeploymentMachine row, written as it
// changes. A cancel (or a shutdown) is looked at between waits: before
// phase 2 it ends with nothing switched; during it, the rollout stops
// waiting and the desired state stays as it is (the agents finish it).
//
// Thread: the io_context thread; the AgentFleet must outlive the Rollout.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "deploy/agent_protocol.h"
#include "store/agent_fleet.h"

namespace anthill::deploy {

// What one rollout is to do: plain values.
struct RolloutSpec {
  int64_t deployment_id = 0;
  std::string project;
  AgentRelease release;  // what the targets fetch, then run
  // How they run it: ProgramOf(project, rollout.min_healthy), so an agent
  // reports a run succeeded only once it stayed healthy that long.
  AgentProgram program;
  config::Rollout policy;
  std::vector<std::string> machines;  // the project's `machines` globs
  std::vector<std::string> labels;    // and `labels`
  // A rollback by hand: `release` ran and passed before (desired.rollback).
  bool rollback = false;
};

// What the caller needs besides the outcome to end the deployment
// (deploy/outcome.h).
struct RolloutResult {
  // Ok: every target runs the release. Else why not, naming the machines:
  //   "web-3: healthcheck failed: ...; rolled back web-1, web-2, web-3"
  // kCancelled when a cancel or a shutdown stopped it.
  Status status;
  std::vector<std::string> targets;  // by name
  bool switched = false;             // a machine was told to run the release (phase 2 began)
  // After a failure with on_failure "rollback": every machine switched runs
  // what it ran before again, each confirmed by its agent.
  bool rolled_back = false;
};

struct RolloutControls {
  // True when the deployment is to stop (a cancel, a shutdown); looked at
  // between waits. Null: never.
  std::function<bool()> cancelled;
  // Called once, right before the first machine is told to switch: from
  // then on the deployment cannot be cancelled (a person rolls back
  // instead). Null: nothing to tell.
  std::function<void()> switching;
};

class Rollout {
 public:
  Rollout(store::AgentFleet* fleet, RolloutSpec spec, RolloutControls controls);
  ~Rollout();

  // The whole rollout: targets, phase 1, phase 2 (and the rollback after a
  // failure). Call once.
  boost::asio::awaitable<RolloutResult> Run();

 private:
  struct Machine;
  // True once the report says what became of the machine (its row is set).
  using Settle = std::function<bool(Machine&, const ProjectReport&)>;
  // The machine was silent past agent_timeout: sets its row.
  using Lost = std::function<void(Machine&)>;
  // What a machine's desired state of the project is to be (nullopt: none).
  // A function of what the machine had before the rollout (`before`) alone:
  // machines that had the same text are told the same.
  using Desire = std::function<std::optional<DesiredProject>(const Machine&)>;

  // Finds the targets and their state before; makes the batches.
  boost::asio::awaitable<Status> Start();
  boost::asio::awaitable<Status> Fetch();                        // phase 1
  boost::asio::awaitable<Status> Switch(RolloutResult& result);  // phase 2
  // After `failure` in phase 2 with on_failure "rollback".
  boost::asio::awaitable<Status> GoBack(const std::vector<Machine*>& switched,
                                        const std::string& failure, RolloutResult& result);
  // A machine's desired state holding the release (phase 1), and running
  // it (phase 2, and a silent machine's end state).
  std::optional<DesiredProject> ToFetch(const Machine& m) const;
  std::optional<DesiredProject> ToRun(const Machine& m) const;
  // One SetDesired of every machine in `machines`, as `desired` says.
  boost::asio::awaitable<Status> SetDesired(const std::vector<Machine*>& machines,
                                            const Desire& desired);
  // Every target's desired state back to the text it had (nothing switched).
  boost::asio::awaitable<void> PutBack();
  // The targets silent past agent_timeout when the rollout began are told
  // the end state (fetch and run the release) at once and recorded lost:
  // no batch waits for them, they converge when they are back. After a
  // failure their desired state goes back to what it was.
  boost::asio::awaitable<void> TellTheAbsent();
  boost::asio::awaitable<void> PutBackAbsent();
  // Reads the reports until `settle` has settled each of `machines` or
  // `lost` the ones silent past agent_timeout, or `enough` (may be null)
  // says to stop waiting for the rest; records each settled row. With
  // `fresh_only`, a report about a desired state older than the one just
  // set is passed by. False when cancelled first.
  boost::asio::awaitable<bool> Await(const std::vector<Machine*>& machines, const Settle& settle,
                                     const Lost& lost, const std::function<bool()>& enough,
                                     bool fresh_only);
  boost::asio::awaitable<void> Record(Machine& m);
  // Their rows in one write (a batch may be 1,000 machines).
  boost::asio::awaitable<void> Record(const std::vector<Machine*>& machines);
  // Waits the policy's pause; false when cancelled meanwhile.
  boost::asio::awaitable<bool> Pause();
  bool Cancelled() const { return controls_.cancelled && controls_.cancelled(); }
  std::string Silent(const Machine& m) const;  // "no answer from web-3 for 5 min"

  store::AgentFleet* fleet_;
  RolloutSpec spec_;
  RolloutControls controls_;
  std::vector<Machine> machines_;  // the targets, by name
  std::vector<std::vector<Machine*>> batches_;
};

}  // namespace anthill::deploy
