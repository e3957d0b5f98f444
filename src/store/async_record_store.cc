#include "store/async_record_store.h"

namespace anthill::store {

// Each body runs to its co_return when first resumed: nothing is awaited,
// so the caller's co_await gets the value without suspending.

using R = ImmediateRecordStore;
template <typename T>
using Awaitable = AsyncRecordStore::Awaitable<T>;

Awaitable<Result<int64_t>> R::CreateDeployment(Deployment d) {
  co_return record_.CreateDeployment(d);
}

Awaitable<Status> R::UpdateDeployment(Deployment d) { co_return record_.UpdateDeployment(d); }

Awaitable<Result<int64_t>> R::StartStep(int64_t deployment_id, StepName name,
                                        TimePoint started_at) {
  co_return record_.StartStep(deployment_id, name, started_at);
}

Awaitable<Status> R::FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                                std::string error) {
  co_return record_.FinishStep(step_id, status, finished_at, error);
}

Awaitable<Result<std::optional<Deployment>>> R::GetDeployment(int64_t id) {
  co_return record_.GetDeployment(id);
}

Awaitable<Result<std::vector<Deployment>>> R::ListDeployments(DeploymentFilter f) {
  co_return record_.ListDeployments(f);
}

Awaitable<Result<RecordStore::Neighbours>> R::DeploymentNeighbours(int64_t id,
                                                                   std::string project) {
  co_return record_.DeploymentNeighbours(id, project);
}

Awaitable<Result<std::optional<Deployment>>> R::LatestDeployment(
    std::string project, std::optional<DeploymentStatus> status) {
  co_return record_.LatestDeployment(project, status);
}

Awaitable<Result<std::vector<RecordStore::StatusCount>>> R::CountDeployments() {
  co_return record_.CountDeployments();
}

Awaitable<Result<int>> R::InterruptUnfinished(TimePoint now, std::string why) {
  co_return record_.InterruptUnfinished(now, why);
}

Awaitable<Result<int>> R::InterruptUnfinishedOfProject(TimePoint now, std::string project,
                                                       std::string why) {
  co_return record_.InterruptUnfinishedOfProject(now, project, why);
}

Awaitable<Result<std::optional<int64_t>>> R::RecordHookEvent(HookEvent e) {
  co_return record_.RecordHookEvent(e);
}

Awaitable<Status> R::SetHookVerdict(int64_t id, std::string verdict) {
  co_return record_.SetHookVerdict(id, verdict);
}

Awaitable<Result<std::vector<HookEvent>>> R::ListHookEvents(int limit, int64_t before_id) {
  co_return record_.ListHookEvents(limit, before_id);
}

Awaitable<Status> R::AddPin(Pin pin) { co_return record_.AddPin(pin); }

Awaitable<Status> R::RemovePin(std::string project, std::string commit) {
  co_return record_.RemovePin(project, commit);
}

Awaitable<Result<std::vector<Pin>>> R::ListPins(std::string project) {
  co_return record_.ListPins(project);
}

}  // namespace anthill::store
