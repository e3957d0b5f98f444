// The record of every deployment, step and started process. SQLite for the
// single-machine shape; a PostgreSQL backend comes with fleets.
//
// Thread: a Store belongs to the io_context thread. Calls are synchronous and
// short (SQLite in WAL mode on local disk). A write is durable when it
// returns, so a crash leaves an honest record for start-up to resolve;
// except when the database cannot take it now (locked by another process for
// more than 100 ms, the disk full): then the write is kept in memory, in
// order, reads show it, and FlushPendingWrites makes it later. Ids of
// deployments and steps are given at once either way.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/change_feed.h"
#include "store/records.h"

namespace anthill::store {

class Store {
 public:
  virtual ~Store() = default;

  // Inserts d (its id and steps are ignored) and returns the new id.
  virtual Result<int64_t> CreateDeployment(const Deployment& d) = 0;
  // Writes every field of d except project, steps and id (identifies the row).
  virtual Status UpdateDeployment(const Deployment& d) = 0;
  // Inserts a running step and returns its id.
  virtual Result<int64_t> StartStep(int64_t deployment_id, std::string_view name,
                                    TimePoint started_at) = 0;
  virtual Status FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                            std::string_view error) = 0;

  // One deployment with its steps; nullopt when there is no such id.
  virtual Result<std::optional<Deployment>> GetDeployment(int64_t id) = 0;
  // Newest first (by id), with steps, filtered; see DeploymentFilter.
  virtual Result<std::vector<Deployment>> ListDeployments(const DeploymentFilter& f) = 0;
  // The ids of the same project's deployments just before and after `id`
  // (0 when there is none), for the detail page's previous/next links.
  struct Neighbours {
    int64_t previous = 0;
    int64_t next = 0;
  };
  virtual Result<Neighbours> DeploymentNeighbours(int64_t id, std::string_view project) = 0;
  // The newest deployment of a project, or of a project with a given status.
  virtual Result<std::optional<Deployment>> LatestDeployment(
      std::string_view project, std::optional<DeploymentStatus> status = std::nullopt) = 0;

  // How many deployments each (project, status) has, for /metrics.
  struct StatusCount {
    std::string project;
    DeploymentStatus status;
    int64_t count = 0;
  };
  virtual Result<std::vector<StatusCount>> CountDeployments() = 0;

  // Marks every step and deployment still queued or running as interrupted
  // at `now` with error `why`, and returns how many deployments it touched.
  // Called once at start-up: those rows belong to a previous life.
  virtual Result<int> InterruptUnfinished(TimePoint now, std::string_view why) = 0;

  // Stores a hook delivery and returns its id, or nullopt when the same
  // (source, delivery_id) was stored before (a replay: nothing is written).
  virtual Result<std::optional<int64_t>> RecordHookEvent(const HookEvent& e) = 0;
  virtual Status SetHookVerdict(int64_t id, std::string_view verdict) = 0;
  // Newest first, without bodies; before_id > 0 pages like deployments.
  virtual Result<std::vector<HookEvent>> ListHookEvents(int limit, int64_t before_id = 0) = 0;

  virtual Result<int64_t> AddProgramEvent(const ProgramEvent& e) = 0;
  // Newest first; empty project: all.
  virtual Result<std::vector<ProgramEvent>> ListProgramEvents(std::string_view project,
                                                              int limit) = 0;
  // How many events of `kind` a project has had since `since`.
  virtual Result<int64_t> CountProgramEvents(std::string_view project, std::string_view kind,
                                             TimePoint since) = 0;

  // A project stopped by hand stays stopped across restarts of Anthill until
  // started by hand or deployed again.
  virtual Status SetHeld(std::string_view project, bool held) = 0;
  virtual Result<bool> IsHeld(std::string_view project) = 0;

  // The program a project runs that passed its health check (or was
  // started from a release that had): re-adopted at start-up.
  virtual Status PutProcess(const Process& p) = 0;  // insert or replace by project
  virtual Status DeleteProcess(std::string_view project) = 0;
  virtual Result<std::optional<Process>> GetProcess(std::string_view project) = 0;
  virtual Result<std::vector<Process>> ListProcesses() = 0;

  // The program a deployment started that has not passed its health check
  // yet. Found at start-up, it is not trusted: it is stopped, and the
  // recorded process (the version before) is kept or started again.
  virtual Status PutCandidate(const Process& p) = 0;  // insert or replace by project
  virtual Status DeleteCandidate(std::string_view project) = 0;
  virtual Result<std::optional<Process>> GetCandidate(std::string_view project) = 0;
  // In one transaction: the candidate becomes the recorded process.
  virtual Status PromoteCandidate(std::string_view project) = 0;

  // Commits pinned out of automatic deploys (see Pin). Adding a pinned
  // commit again keeps the first reason.
  virtual Status AddPin(const Pin& pin) = 0;
  virtual Status RemovePin(std::string_view project, std::string_view commit) = 0;
  // Newest first.
  virtual Result<std::vector<Pin>> ListPins(std::string_view project) = 0;

  // Makes the writes kept because the database could not take them, oldest
  // first; returns how many are still kept. The daemon calls it on a timer.
  virtual size_t FlushPendingWrites() = 0;
  virtual size_t pending_writes() const = 0;

  // Every committed change to a deployment, its steps or a project's program
  // is published here (not the start-up InterruptUnfinished: nobody listens yet).
  ChangeFeed& changes() { return changes_; }

 protected:
  void PublishDeployment(int64_t id) const {
    changes_.Publish({Change::Kind::kDeployment, id, {}});
  }
  void PublishProject(std::string_view project) const {
    changes_.Publish({Change::Kind::kProject, 0, std::string(project)});
  }

 private:
  ChangeFeed changes_;
};

// Opens (creating if needed) the SQLite database at `file` and brings its
// schema up to date. Errors name the file.
Result<std::unique_ptr<Store>> OpenSqlite(const std::filesystem::path& file);

}  // namespace anthill::store
