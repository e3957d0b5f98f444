// The build queue (build_queue.h) in PostgreSQL 15, beside the record in
// the same database: tables builders and build_jobs (migration 2,
// pg_schema.cc), on pooled connections driven on the loop (PgPool).
//
// Choices of its own:
// - Claiming is one statement: the oldest queued job the builder's labels
//   cover is locked with FOR UPDATE SKIP LOCKED and updated to running, so
//   builders claiming at once each get a different job and never wait for
//   one another's locks.
// - Every time (leases, queued_at, a builder's seen_at, the finished_at of
//   the steps ReclaimExpired interrupts) is the database server's clock,
//   now() in unix milliseconds: a lease is given and judged by one clock,
//   whatever the builders' clocks say.
// - A lease (Options::lease, 10 s) runs from each Claim and Renew; a builder
//   renews it every lease / 3 or so (RenewEvery). ReclaimExpired is one
//   statement: the jobs it takes back, their deployments' running steps
//   (marked interrupted) and the notifications all commit together or not
//   at all, and SKIP LOCKED lets any number of processes run it at once.
// - Notifications, sent in the transaction of the write: on kPgJobsChannel
//   "queued:<job id>" when a job is queued (Enqueue, or taken back),
//   "done:<job id>" when it finishes or is cancelled; on kPgChangesChannel
//   "deployment:<id>" when ReclaimExpired changed a deployment's steps.
// - build_jobs.deployment_id is not a foreign key: an orchestrator may queue
//   the build of a deployment whose row its writer has not made yet
//   (pg_record_writer.h: ids reserved ahead, rows written behind).
// - Text goes through PgValidText, as in PgRecordStore: bytes that are not
//   UTF-8 (a ref, an error) are stored as U+FFFD, never refused.
//
// Thread: the io_context thread of the executor it was opened with. It must
// outlive every call in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/build_queue.h"
#include "store/pg_pool.h"

namespace anthill::store {

// The channel the queue notifies on and PgJobListener listens to.
inline constexpr char kPgJobsChannel[] = "anthill_jobs";

class PgBuildQueue final : public BuildQueue {
 public:
  struct Options {
    // How long a claim or a renewal holds a job for its builder.
    Duration lease{10000};
    // A builder seen (registered, heartbeat, claim, renewal) this recently
    // counts as alive in ListOpen's reasons.
    Duration builder_alive{30000};
    // Connections of its pool.
    size_t connections = 2;
  };

  // Connects to `conninfo` (PgConnection::Connect's forms) and brings the
  // schema up to date (MigratePgSchema). Errors as PgRecordStore::Open's.
  static Awaitable<Result<std::unique_ptr<PgBuildQueue>>> Open(
      boost::asio::any_io_executor executor, std::string conninfo, Options options);

  Awaitable<Result<int64_t>> Enqueue(BuildJobSpec spec) override;
  Awaitable<Status> RegisterBuilder(BuilderInfo builder) override;
  Awaitable<Status> Heartbeat(std::string builder) override;
  Awaitable<Result<std::optional<BuildJobRow>>> Claim(std::string builder,
                                                      std::vector<std::string> labels) override;
  Awaitable<Status> Renew(int64_t job_id, std::string builder, int attempt) override;
  Awaitable<Status> Finish(int64_t job_id, std::string builder, int attempt,
                           BuildOutcome outcome) override;
  Awaitable<Status> Cancel(int64_t job_id, std::string why) override;
  Awaitable<Result<std::vector<BuildJobRow>>> ReclaimExpired() override;
  Awaitable<Result<BuildJobRow>> Get(int64_t job_id) override;
  Awaitable<Result<std::vector<BuildJobRow>>> JobsOfDeployment(int64_t deployment_id) override;
  Awaitable<Result<std::vector<QueuedJobView>>> ListOpen() override;
  Awaitable<Result<std::optional<BuildJobRow>>> FindReusable(BuildJobSpec spec) override;
  Awaitable<Result<std::vector<BuildJobRow>>> ListArtifacts(std::string project) override;
  Awaitable<Status> ForgetArtifact(int64_t job_id) override;

  const Options& options() const { return options_; }
  // How often a builder should Renew: a third of the lease, so that two
  // renewals may be lost or late before the lease runs out.
  Duration RenewEvery() const { return options_.lease / 3; }

 private:
  PgBuildQueue(boost::asio::any_io_executor executor, std::string conninfo, Options options);
  // Runs one statement on a pooled connection; its error is prefixed
  // "build queue: <what>".
  Awaitable<Result<PgResult>> Run(const std::string& what, const std::string& sql,
                                  const PgParams& params);
  // Renew and Finish: runs `sql`, which changes job `job_id` only while it
  // is still `attempt` ("attempt 1 on b1") and then returns a row; no row
  // is kConflict, saying what the job is now.
  Awaitable<Status> ChangeAttempt(const std::string& what, int64_t job_id,
                                  const std::string& attempt, const std::string& sql,
                                  const PgParams& params);

  PgPool pool_;
  Options options_;
};

}  // namespace anthill::store
