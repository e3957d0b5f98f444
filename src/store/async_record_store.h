// The shared record as a coroutine calls it: every call is awaited, so a
// backend across a network (PostgreSQL, issue 14) suspends the caller while
// its query is on the wire and the loop keeps serving everyone else. Same
// calls and contracts as RecordStore (record_store.h); store.h says why this
// shape and how callers move to it.
//
// Parameters are taken by value: a call may outlive the caller's
// temporaries while it is suspended. Callers name their arguments before
// the co_await (`auto d = ...; co_await record.CreateDeployment(d);`), never
// build a temporary inside the co_await expression (GCC 12 frees it early).
//
// Thread: the io_context thread; each call resumes its caller there.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/record_store.h"
#include "store/records.h"

namespace anthill::store {

class AsyncRecordStore {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  virtual ~AsyncRecordStore() = default;

  virtual Awaitable<Result<int64_t>> CreateDeployment(Deployment d) = 0;
  virtual Awaitable<Status> UpdateDeployment(Deployment d) = 0;
  virtual Awaitable<Result<int64_t>> StartStep(int64_t deployment_id, StepName name,
                                               TimePoint started_at) = 0;
  virtual Awaitable<Status> FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                                       std::string error) = 0;

  virtual Awaitable<Result<std::optional<Deployment>>> GetDeployment(int64_t id) = 0;
  virtual Awaitable<Result<std::vector<Deployment>>> ListDeployments(DeploymentFilter f) = 0;
  virtual Awaitable<Result<RecordStore::Neighbours>> DeploymentNeighbours(int64_t id,
                                                                          std::string project) = 0;
  virtual Awaitable<Result<std::optional<Deployment>>> LatestDeployment(
      std::string project, std::optional<DeploymentStatus> status) = 0;
  virtual Awaitable<Result<std::vector<RecordStore::StatusCount>>> CountDeployments() = 0;
  virtual Awaitable<Result<int>> InterruptUnfinished(TimePoint now, std::string why) = 0;
  virtual Awaitable<Result<int>> InterruptUnfinishedOfProject(TimePoint now, std::string project,
                                                              std::string why) = 0;

  virtual Awaitable<Result<std::optional<int64_t>>> RecordHookEvent(HookEvent e) = 0;
  virtual Awaitable<Status> SetHookVerdict(int64_t id, std::string verdict) = 0;
  virtual Awaitable<Result<std::vector<HookEvent>>> ListHookEvents(int limit,
                                                                   int64_t before_id) = 0;

  virtual Awaitable<Status> AddPin(Pin pin) = 0;
  virtual Awaitable<Status> RemovePin(std::string project, std::string commit) = 0;
  virtual Awaitable<Result<std::vector<Pin>>> ListPins(std::string project) = 0;
};

// The awaitable record over a synchronous one whose calls are short and
// local (SQLite on local disk, in WAL mode, 100 ms busy timeout, writes it
// cannot take kept in memory): each call runs when awaited and completes
// before the co_await returns, without a trip through the io_context's
// queue, so code written against AsyncRecordStore costs nothing today.
class ImmediateRecordStore final : public AsyncRecordStore {
 public:
  explicit ImmediateRecordStore(RecordStore& record) : record_(record) {}

  Awaitable<Result<int64_t>> CreateDeployment(Deployment d) override;
  Awaitable<Status> UpdateDeployment(Deployment d) override;
  Awaitable<Result<int64_t>> StartStep(int64_t deployment_id, StepName name,
                                       TimePoint started_at) override;
  Awaitable<Status> FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                               std::string error) override;
  Awaitable<Result<std::optional<Deployment>>> GetDeployment(int64_t id) override;
  Awaitable<Result<std::vector<Deployment>>> ListDeployments(DeploymentFilter f) override;
  Awaitable<Result<RecordStore::Neighbours>> DeploymentNeighbours(int64_t id,
                                                                  std::string project) override;
  Awaitable<Result<std::optional<Deployment>>> LatestDeployment(
      std::string project, std::optional<DeploymentStatus> status) override;
  Awaitable<Result<std::vector<RecordStore::StatusCount>>> CountDeployments() override;
  Awaitable<Result<int>> InterruptUnfinished(TimePoint now, std::string why) override;
  Awaitable<Result<int>> InterruptUnfinishedOfProject(TimePoint now, std::string project,
                                                      std::string why) override;
  Awaitable<Result<std::optional<int64_t>>> RecordHookEvent(HookEvent e) override;
  Awaitable<Status> SetHookVerdict(int64_t id, std::string verdict) override;
  Awaitable<Result<std::vector<HookEvent>>> ListHookEvents(int limit, int64_t before_id) override;
  Awaitable<Status> AddPin(Pin pin) override;
  Awaitable<Status> RemovePin(std::string project, std::string commit) override;
  Awaitable<Result<std::vector<Pin>>> ListPins(std::string project) override;

 private:
  RecordStore& record_;
};

}  // namespace anthill::store
