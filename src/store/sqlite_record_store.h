// The shared record (record_store.h) in the SQLite file. Internal to
// store/: SqliteStore combines it with the machine half.
// Thread: the owner's (the Store's).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/record_store.h"
#include "store/sqlite_backend.h"

namespace anthill::store {

class SqliteRecordStore : public virtual RecordStore {
 public:
  explicit SqliteRecordStore(SqliteBackend& backend) : b_(backend) {}

  // Reads the next ids. REQUIRES: the schema is up to date.
  void LoadNextIds();

  Result<int64_t> CreateDeployment(const Deployment& d) override;
  Status UpdateDeployment(const Deployment& d) override;
  Result<int64_t> StartStep(int64_t deployment_id, StepName name, TimePoint started_at) override;
  Status FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                    std::string_view error) override;
  Result<std::optional<Deployment>> GetDeployment(int64_t id) override;
  Result<std::vector<Deployment>> ListDeployments(const DeploymentFilter& f) override;
  Result<Neighbours> DeploymentNeighbours(int64_t id, std::string_view project) override;
  Result<std::optional<Deployment>> LatestDeployment(
      std::string_view project, std::optional<DeploymentStatus> status) override;
  Result<std::vector<StatusCount>> CountDeployments() override;
  Result<int> InterruptUnfinished(TimePoint now, std::string_view why) override;
  Result<int> InterruptUnfinishedOfProject(TimePoint now, std::string_view project,
                                           std::string_view why) override;
  Result<std::optional<int64_t>> RecordHookEvent(const HookEvent& e) override;
  Status SetHookVerdict(int64_t id, std::string_view verdict) override;
  Result<std::vector<HookEvent>> ListHookEvents(int limit, int64_t before_id) override;
  Status AddPin(const Pin& pin) override;
  Status RemovePin(std::string_view project, std::string_view commit) override;
  Result<std::vector<Pin>> ListPins(std::string_view project) override;

 private:
  Result<std::optional<Deployment>> GetDeploymentRow(int64_t id);
  // The unsaved state of deployment `id`: kept already, else read from the
  // database (or `fallback` when it has no such row yet).
  Deployment& Unsaved(int64_t id, const Deployment& fallback);
  Status InsertDeployment(const Deployment& d);
  Status UpdateDeploymentRow(const Deployment& d);
  Status InsertStep(const Step& step);
  int64_t NextId(const std::string& table);
  // Fills the steps of every deployment in `list` with one query.
  Status LoadSteps(std::vector<Deployment>& list);

  SqliteBackend& b_;
  int64_t next_deployment_id_ = 1;
  int64_t next_step_id_ = 1;
};

}  // namespace anthill::store
