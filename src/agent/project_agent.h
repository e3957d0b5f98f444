// One project on an agent's machine: its part of the desired state,
// reconciled level-triggered (each pass compares what is wanted with what
// is here and does what is missing, so a pass repeated after a lost answer
// or a restart changes nothing that is already right), and its supervisor
// (supervise/), which owns what runs.
//
// A pass:
//   1. every release to fetch, and the one to run, into releases/
//      (download.h), each failure kept in the report's fetch_failed;
//   2. when a release is to run and it is not what runs: the swap
//      (deploy/swap.h, as the single machine does it), and on failure the
//      agent's own rollback; the outcome, "succeeded" or "failed", reported
//      under the deployment. After a swap that succeeded, releases beyond
//      the newest 5 are pruned, never one the desired state names. A release that already runs is
//      reported succeeded without a restart; a target whose swap failed here is not tried again
//      (the orchestrator decides what comes next).
// A failed download that may pass (the store unreachable) is tried again
// after a pause (5 s doubling to 5 min); a checksum mismatch or a missing
// artifact waits for the next desired state.
//
// The program's settings (the desired AgentProgram) become the supervisor's
// spec; when they change, a new supervisor re-adopts what runs, and the new
// settings apply from its next start. A supervisor replaced so is kept (not
// destroyed) until the agent goes: its loops may still be suspended on it.
//
// Thread: the io_context thread owns a ProjectAgent and everything it
// touches; its coroutines share state only between co_awaits.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_db.h"
#include "agent/environment.h"
#include "artifact/artifact_store.h"
#include "base/event.h"
#include "deploy/agent_protocol.h"
#include "deploy/step_sink.h"
#include "release/releases.h"
#include "store/machine_store.h"
#include "supervise/supervisor.h"

namespace anthill::agent {

// What an agent's projects share; it outlives them.
struct AgentContext {
  boost::asio::any_io_executor executor;
  std::filesystem::path data_dir;
  std::string machine;
  EnvMap env;                         // the agent's --env values
  std::vector<std::string> base_env;  // the agent's own environment
  store::MachineStore* store = nullptr;
  AgentDb* db = nullptr;
  deploy::StepSink* steps = nullptr;
  // The artifact store a desired state names, reached through the
  // orchestrator answering now.
  std::function<Result<std::unique_ptr<artifact::ArtifactStore>>(const deploy::AgentArtifactStore&)>
      artifacts;
  // Something was queued for reporting.
  std::function<void()> queued;
};

class ProjectAgent {
 public:
  ProjectAgent(const AgentContext* ctx, std::string project);
  ~ProjectAgent();
  ProjectAgent(const ProjectAgent&) = delete;
  ProjectAgent& operator=(const ProjectAgent&) = delete;

  const std::string& project() const { return project_; }

  // Takes back what a previous life kept of the project (its program, its
  // last report) and re-adopts its program, or starts its release again.
  boost::asio::awaitable<void> Recover(AgentDb::ProjectRow row);
  // The project's part of desired state `generation`; Run reconciles it.
  void Want(deploy::DesiredProject desired, int64_t generation,
            deploy::AgentArtifactStore artifacts);
  // The desired state no longer names the project: what runs is left
  // running (and supervised), and no longer reported.
  void Unwanted();
  bool wanted() const { return wanted_; }

  // Reconciles each new part (and retries) until Shutdown.
  boost::asio::awaitable<void> Run();
  // Ends Run once a pass under way is over; the program keeps running.
  void Shutdown();
  bool done() const { return stopping_ && !running_; }

  // The project as it is now, and that queued for reporting.
  deploy::ProjectReport Report() const;
  void QueueReport();
  // When its state was last queued (steady clock; its construction before).
  std::chrono::steady_clock::time_point queued_at() const { return queued_at_; }

 private:
  // One pass; true when something that may pass failed (try again later).
  boost::asio::awaitable<bool> Reconcile();
  boost::asio::awaitable<void> RunTarget(const deploy::DesiredProject& d);
  // A supervisor with `program`'s settings, which re-adopts what runs.
  boost::asio::awaitable<void> UseProgram(const deploy::AgentProgram& program);
  // Fills in a recorded program's dir, ref and environment (Recover).
  bool Complete(supervise::Deployed& what) const;
  supervise::Deployed DeployedOf(const deploy::AgentRelease& r, int64_t deployment_id) const;
  void SetRun(int64_t deployment_id, const std::string& release, const std::string& status,
              const std::string& error);
  void Save();

  const AgentContext* ctx_;
  std::string project_;
  release::Releases releases_;
  std::unique_ptr<supervise::Supervisor> supervisor_;
  std::vector<std::unique_ptr<supervise::Supervisor>> retired_;
  deploy::AgentProgram program_;  // supervisor_'s settings

  std::optional<deploy::DesiredProject> desired_;  // newest part wanted
  int64_t generation_ = 0;                         // of desired_
  deploy::AgentArtifactStore artifacts_;           // where desired_'s releases are
  std::optional<deploy::DesiredProject> applied_;  // the part the last pass worked on
  bool wanted_ = false;
  bool changed_ = false;  // a part came that no pass has seen yet

  deploy::ProjectReport report_;  // fetch_failed and the run target's outcome
  std::string failed_run_;        // "<deployment id> <release>" whose swap failed here
  std::chrono::steady_clock::time_point queued_at_ = std::chrono::steady_clock::now();

  std::unique_ptr<Event> wake_;
  bool stopping_ = false;
  bool running_ = false;  // Run is under way
};

}  // namespace anthill::agent
