// What an agent must not forget when it is killed, in a SQLite file of its
// own (data_dir/agent.db, beside machine.db, which the supervisor keeps):
//
//   - the highest desired state it was given, whole, with its generation:
//     it never goes back to an older one, after a restart or from a stale
//     orchestrator, and converges towards it before any orchestrator
//     answers;
//   - per project, the part of it last applied (its program: how to run it
//     after a restart) and the last report made of it (what was fetched,
//     what failed, the outcome of the last run target);
//   - the outbox: step changes and project states not yet acknowledged by
//     an orchestrator, in order; a newer state of a project replaces an
//     older one still queued (a state is whole, not a change);
//   - the steps started and not ended, so that the next life reports them
//     interrupted.
//
// Each write is made at once (the file is the agent's alone: nothing else
// locks it); a failed write is returned, and the caller logs it.
//
// Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/agent_fleet.h"
#include "store/sqlite.h"

namespace anthill::agent {

class AgentDb {
 public:
  // Opens (creating if needed) `file` and brings its schema up to date.
  // Errors name the file.
  static Result<std::unique_ptr<AgentDb>> Open(const std::filesystem::path& file);

  // Random, made with the file (16 hex): report ids carry it, so that an
  // agent whose data dir was wiped never reuses an id the orchestrators
  // have applied.
  const std::string& id() const { return id_; }

  // --- The desired state ---------------------------------------------------
  // The highest generation kept (0 before any) and its state as JSON ("").
  int64_t generation() const { return generation_; }
  const std::string& desired() const { return desired_; }
  // Keeps `json` when `generation` is above the one kept: true. An older or
  // the same generation changes nothing: false.
  Result<bool> SaveDesired(int64_t generation, const std::string& json);

  // --- Projects ------------------------------------------------------------
  struct ProjectRow {
    std::string project;
    std::string desired;  // JSON deploy::DesiredProject last applied ("" none)
    std::string report;   // JSON deploy::ProjectReport last made ("" none)
    // "<deployment id> <release>" of a run target whose swap failed here: it
    // is not tried again (the orchestrator decides what comes next).
    std::string failed_run;
  };
  Result<std::vector<ProjectRow>> Projects();
  Status SaveProject(const ProjectRow& row);

  // --- The outbox ----------------------------------------------------------
  struct Item {
    int64_t id = 0;
    store::AgentReport part;  // one step, or one project's state
  };
  // Queues a step as it is now. A running step is also remembered as open
  // until a later call queues it ended.
  Status QueueStep(const store::AgentStep& step);
  // Queues a project's state (JSON deploy::ProjectReport); an older state of
  // the same project still queued is dropped.
  Status QueueState(const std::string& project, const std::string& state);
  // The oldest items, at most `limit`, in order.
  Result<std::vector<Item>> Oldest(int limit);
  // Forgets the items up to `id` (acknowledged).
  Status Acknowledge(int64_t id);
  // How many items wait.
  Result<int64_t> Queued();
  // Steps queued running and never queued ended: a previous life's.
  Result<std::vector<store::AgentStep>> OpenSteps();

 private:
  explicit AgentDb(std::unique_ptr<store::Db> db) : db_(std::move(db)) {}
  Status Load();
  Status SetMeta(const std::string& key, const std::string& value);

  std::unique_ptr<store::Db> db_;
  std::string id_;
  int64_t generation_ = 0;
  std::string desired_;
};

}  // namespace anthill::agent
