// The shared record (record_store.h) in PostgreSQL 15 (issue 14), as
// coroutines call it (AsyncRecordStore): every call suspends its caller
// while its statement is on the wire, on one of a few pooled connections
// (PgPool), and the loop keeps serving everyone else.
//
// Same contracts as record_store.h, with these choices of its own:
// - A write completes when committed (durable), with ids the database gave.
//   A write the server cannot take now (connection lost, failover) is an
//   error (kUnavailable) for now; nothing is kept for later yet (store.h's
//   write-behind is not wired to this backend). The next call gets a fresh
//   connection.
// - Each write that changes a deployment or its steps NOTIFYs "deployment:<id>"
//   (pins: "project:<name>") on kPgChangesChannel in its own transaction,
//   so PgChangeListener hears every committed change, whoever made it.
// - Bytes: text columns hold valid UTF-8 without zero bytes. Every text
//   value written (a ref, an error message, an actor, a verdict...) goes
//   through PgValidText: each invalid byte and each zero byte is stored as
//   U+FFFD, so no write fails because of the bytes it carries, and reads
//   give back that text, not the original bytes (SQLite keeps the bytes).
//   Two delivery ids that differ only in such bytes count as one. Hook
//   bodies are bytea and are kept exactly.
// - Each single-row write is one statement; InterruptUnfinished and
//   InterruptUnfinishedOfProject are one statement too (the deployments,
//   their running steps and their rollout's unended machines, updated in
//   one WITH), so each is all or nothing.
//
// Thread: the io_context thread of the executor it was opened with. It must
// outlive every call in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/async_record_store.h"
#include "store/pg_pool.h"

namespace anthill::store {

class PgRecordStore final : public AsyncRecordStore {
 public:
  // Connects to `conninfo` (PgConnection::Connect's forms) and brings the
  // schema up to date (MigratePgSchema), for machine `machine`:
  // InterruptUnfinished touches its deployments only. Connection errors are
  // kUnavailable with libpq's message; a migration that fails names itself.
  static Awaitable<Result<std::unique_ptr<PgRecordStore>>> Open(
      boost::asio::any_io_executor executor, std::string conninfo, std::string machine);

  // Inserts d and returns its id. d.id <= 0: the database gives one. d.id > 0:
  // that id is used. REQUIRES: it came from ReserveDeploymentIds (an id the
  // sequence will never give again), else a later insert may collide with
  // it (kConflict).
  Awaitable<Result<int64_t>> CreateDeployment(Deployment d) override;
  Awaitable<Status> UpdateDeployment(Deployment d) override;
  Awaitable<Result<int64_t>> StartStep(int64_t deployment_id, StepName name,
                                       TimePoint started_at) override;
  // StartStep with the step's id given: step_id > 0 from ReserveStepIds (same
  // rule as CreateDeployment's d.id), or <= 0 for one from the database.
  Awaitable<Result<int64_t>> StartStepWithId(int64_t step_id, int64_t deployment_id, StepName name,
                                             TimePoint started_at);
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

  // `n` new ids from the deployments' (or steps') own sequence, ascending,
  // that the database will never give to another row: for a caller that
  // must name rows before it writes them (a write kept while the database is
  // away). An id reserved and never used leaves a gap, nothing else.
  // REQUIRES: 1 <= n <= 10000.
  Awaitable<Result<std::vector<int64_t>>> ReserveDeploymentIds(int n);
  Awaitable<Result<std::vector<int64_t>>> ReserveStepIds(int n);

  const std::string& machine() const { return machine_; }
  PgPool& pool() { return pool_; }

 private:
  PgRecordStore(boost::asio::any_io_executor executor, std::string conninfo, std::string machine);
  // Runs one statement on a pooled connection; its error is prefixed
  // "store: <what>".
  Awaitable<Result<PgResult>> Run(const std::string& what, const std::string& sql,
                                  const PgParams& params);
  Awaitable<Result<std::vector<int64_t>>> Reserve(const std::string& table, int n);

  PgPool pool_;
  std::string machine_;
};

}  // namespace anthill::store
