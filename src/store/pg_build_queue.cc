#include "store/pg_build_queue.h"

#include <algorithm>
#include <charconv>

#include "base/strings.h"
#include "store/pg_cells.h"
#include "store/pg_change_listener.h"
#include "store/pg_schema.h"
#include "store/records.h"

namespace anthill::store {

namespace asio = boost::asio;

namespace {

// A word of ours as a SQL literal ('queued'): the words come from their one
// table (build_queue.h, records.cc), never from outside.
std::string Word(BuildJobStatus s) { return "'" + std::string(ToString(s)) + "'"; }
std::string Word(StepStatus s) { return "'" + std::string(ToString(s)) + "'"; }

// The columns of a job, in the order ReadJob reads them; `t` qualifies
// them where a statement joins another table.
std::string JobColumns(const std::string& t = "") {
  static const char* const kNames[] = {
      "id",      "deployment_id", "project",         "repo",          "commit_sha",
      "ref",     "version",       "build",           "test",          "artifacts",
      "env",     "timeout_ms",    "labels",          "status",        "attempt",
      "builder", "queued_at",     "started_at",      "finished_at",   "lease_until",
      "error",   "artifact_key",  "artifact_sha256", "artifact_size", "release",
      "clean"};
  std::string out;
  for (const char* name : kNames) out += (out.empty() ? "" : ", ") + t + name;
  return out;
}

BuildJobRow ReadJob(const std::vector<PgCell>& r) {
  BuildJobRow j;
  j.id = PgToInt(r[0]);
  BuildJobSpec& s = j.spec;
  s.deployment_id = PgToInt(r[1]);
  s.project = PgStr(r[2]);
  s.repo = PgStr(r[3]);
  s.commit = PgStr(r[4]);
  s.ref = PgStr(r[5]);
  s.version = PgStr(r[6]);
  s.build = PgStr(r[7]);
  s.test = PgStr(r[8]);
  s.artifacts = PgParseTextArray(r[9]);
  s.env = PgParseTextArray(r[10]);
  s.timeout = Duration(PgToInt(r[11]));
  s.labels = PgParseTextArray(r[12]);
  // A word this build does not know (a newer Anthill's) reads as failed:
  // nothing claims or renews it.
  j.status = ParseBuildJobStatus(PgStr(r[13])).value_or(BuildJobStatus::kFailed);
  j.attempt = static_cast<int>(PgToInt(r[14]));
  j.builder = PgStr(r[15]);
  j.queued_at = FromUnixMillis(PgToInt(r[16]));
  j.started_at = PgMaybeTime(r[17]);
  j.finished_at = PgMaybeTime(r[18]);
  j.lease_until = PgMaybeTime(r[19]);
  j.error = PgStr(r[20]);
  j.artifact_key = PgStr(r[21]);
  j.artifact_sha256 = PgStr(r[22]);
  j.artifact_size = PgToInt(r[23]);
  j.release = PgStr(r[24]);
  s.clean = PgStr(r[25]);
  return j;
}

// What a job is now, for the message of an attempt that lost it.
std::string StateOf(const BuildJobRow& j) {
  switch (j.status) {
    case BuildJobStatus::kQueued:
      return j.attempt > 0 ? "it was taken back and is queued" : "it is queued";
    case BuildJobStatus::kRunning:
      return "it is attempt " + std::to_string(j.attempt) + ", on " + j.builder;
    case BuildJobStatus::kSucceeded:
      return "it has succeeded";
    case BuildJobStatus::kFailed:
      return "it has failed";
    case BuildJobStatus::kCancelled:
      return "it was cancelled";
  }
  return "it is " + std::string(ToString(j.status));
}

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

bool Covers(const std::vector<std::string>& have, const std::vector<std::string>& need) {
  return std::all_of(need.begin(), need.end(), [&](const std::string& label) {
    return std::find(have.begin(), have.end(), label) != have.end();
  });
}

}  // namespace

using Queue = PgBuildQueue;
template <typename T>
using Awaitable = BuildQueue::Awaitable<T>;

Queue::PgBuildQueue(asio::any_io_executor executor, std::string conninfo, Options options)
    : pool_(std::move(executor), std::move(conninfo), options.connections), options_(options) {}

Awaitable<Result<std::unique_ptr<Queue>>> Queue::Open(asio::any_io_executor executor,
                                                      std::string conninfo, Options options) {
  std::unique_ptr<Queue> queue(new Queue(std::move(executor), std::move(conninfo), options));
  auto lease = co_await queue->pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("build queue");
  PgConnection& conn = **lease;
  Status migrated = co_await MigratePgSchema(conn);
  if (!migrated.ok()) co_return migrated.Prefixed("build queue");
  co_return std::move(queue);
}

Awaitable<Result<PgResult>> Queue::Run(const std::string& what, const std::string& sql,
                                       const PgParams& params) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("build queue: " + what);
  PgConnection& conn = **lease;
  auto result = co_await conn.Query(sql, params);
  if (!result.ok()) co_return result.status().Prefixed("build queue: " + what);
  co_return result;
}

Awaitable<Result<int64_t>> Queue::Enqueue(BuildJobSpec spec) {
  if (spec.deployment_id <= 0 || spec.project.empty()) {
    co_return Status::InvalidArgument(
        "build queue: enqueue: a job needs its deployment's id and its project");
  }
  // The insert and its notification are one statement: a builder woken by
  // it finds the job committed.
  static const std::string sql =
      "WITH made AS (INSERT INTO build_jobs (deployment_id, project, repo, commit_sha, ref, "
      "version, build, test, artifacts, env, timeout_ms, labels, clean, status, queued_at) VALUES "
      "($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10::text[], $11, $12::text[], $13, " +
      Word(BuildJobStatus::kQueued) + ", " + kPgNowMillis + ") RETURNING id) SELECT id, " +
      PgNotifySql(kPgJobsChannel, "queued", "id") + " FROM made";
  const PgParams params = {PgInt(spec.deployment_id),
                           PgText(spec.project),
                           PgText(spec.repo),
                           PgText(spec.commit),
                           PgText(spec.ref),
                           PgText(spec.version),
                           PgText(spec.build),
                           PgText(spec.test),
                           PgTextArray(spec.artifacts),
                           PgTextArray(spec.env),
                           PgInt(spec.timeout.count()),
                           PgTextArray(spec.labels),
                           PgText(spec.clean)};
  const std::string what = "enqueue a build of deployment " + std::to_string(spec.deployment_id);
  auto made = co_await Run(what, sql, params);
  if (!made.ok()) co_return made.status();
  co_return PgToInt(made->rows.at(0).at(0));
}

Awaitable<Status> Queue::RegisterBuilder(BuilderInfo builder) {
  if (builder.name.empty() || builder.slots < 1) {
    co_return Status::InvalidArgument("build queue: register builder '" + builder.name +
                                      "': a builder needs a name and at least one slot (has " +
                                      std::to_string(builder.slots) + ")");
  }
  static const std::string sql =
      "INSERT INTO builders (name, labels, slots, started_at, seen_at) VALUES ($1, $2::text[], "
      "$3, " +
      kPgNowMillis + ", " + kPgNowMillis +
      ") ON CONFLICT (name) DO UPDATE SET labels = excluded.labels, slots = excluded.slots, "
      "started_at = excluded.started_at, seen_at = excluded.seen_at";
  const PgParams params = {PgText(builder.name), PgTextArray(builder.labels), PgInt(builder.slots)};
  const std::string what = "register builder " + builder.name;
  auto done = co_await Run(what, sql, params);
  co_return done.status();
}

Awaitable<Status> Queue::Heartbeat(std::string builder) {
  static const std::string sql =
      "UPDATE builders SET seen_at = " + kPgNowMillis + " WHERE name = $1";
  const PgParams params = {PgText(builder)};
  const std::string what = "heartbeat of " + builder;
  auto done = co_await Run(what, sql, params);
  if (!done.ok()) co_return done.status();
  if (done->affected_rows == 0) {
    co_return Status::NotFound("build queue: " + what + ": no such builder is registered");
  }
  co_return Status::Ok();
}

Awaitable<Result<std::optional<BuildJobRow>>> Queue::Claim(std::string builder,
                                                           std::vector<std::string> labels) {
  // The inner SELECT locks the oldest job this builder may run and skips
  // the ones other claims hold locked right now, so concurrent claims take
  // different jobs without waiting; the scalar subquery runs once. Under
  // READ COMMITTED a row another claim changed meanwhile is checked again
  // against status = queued before it is locked: it cannot be taken twice.
  static const std::string sql =
      "WITH seen AS (UPDATE builders SET seen_at = " + kPgNowMillis +
      " WHERE name = $1), claimed AS (UPDATE build_jobs SET status = " +
      Word(BuildJobStatus::kRunning) +
      ", attempt = attempt + 1, builder = $1, started_at = " + kPgNowMillis +
      ", lease_until = " + kPgNowMillis +
      " + $3::bigint WHERE id = (SELECT id FROM build_jobs WHERE status = " +
      Word(BuildJobStatus::kQueued) +
      " AND labels <@ $2::text[] ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = " +
      Word(BuildJobStatus::kQueued) + " RETURNING " + JobColumns() + ") SELECT " + JobColumns() +
      " FROM claimed";
  const PgParams params = {PgText(builder), PgTextArray(labels), PgInt(options_.lease.count())};
  const std::string what = "claim for " + builder;
  auto claimed = co_await Run(what, sql, params);
  if (!claimed.ok()) co_return claimed.status();
  if (claimed->rows.empty()) co_return std::optional<BuildJobRow>();
  co_return std::optional<BuildJobRow>(ReadJob(claimed->rows[0]));
}

Awaitable<Status> Queue::ChangeAttempt(const std::string& what, int64_t job_id,
                                       const std::string& attempt, const std::string& sql,
                                       const PgParams& params) {
  auto changed = co_await Run(what, sql, params);
  if (!changed.ok()) co_return changed.status();
  if (!changed->rows.empty()) co_return Status::Ok();
  // Not this attempt's any more: what it is now makes the message. Read
  // apart from the change, so it may be newer still, never older.
  auto now = co_await Get(job_id);
  if (!now.ok()) co_return now.status();
  co_return Status::Conflict("build queue: " + what + ": " + attempt +
                             " no longer holds it: " + StateOf(*now));
}

Awaitable<Status> Queue::Renew(int64_t job_id, std::string builder, int attempt) {
  // A lease that ran out is renewed as long as the job is still this
  // attempt's: no one else has it, and the builder is plainly alive.
  static const std::string sql =
      "WITH seen AS (UPDATE builders SET seen_at = " + kPgNowMillis +
      " WHERE name = $2) UPDATE build_jobs SET lease_until = " + kPgNowMillis +
      " + $4::bigint WHERE id = $1 AND builder = $2 AND attempt = $3 AND status = " +
      Word(BuildJobStatus::kRunning) + " RETURNING id";
  const PgParams params = {PgInt(job_id), PgText(builder), PgInt(attempt),
                           PgInt(options_.lease.count())};
  const std::string what = "renew build job " + std::to_string(job_id);
  const std::string holder = "attempt " + std::to_string(attempt) + " on " + builder;
  Status renewed = co_await ChangeAttempt(what, job_id, holder, sql, params);
  co_return renewed;
}

Awaitable<Status> Queue::Finish(int64_t job_id, std::string builder, int attempt,
                                BuildOutcome outcome) {
  const std::string what = "finish build job " + std::to_string(job_id);
  if (!IsFinished(outcome.status)) {
    co_return Status::InvalidArgument("build queue: " + what + ": '" +
                                      std::string(ToString(outcome.status)) +
                                      "' is not how a build ends");
  }
  static const std::string sql =
      "WITH seen AS (UPDATE builders SET seen_at = " + kPgNowMillis +
      " WHERE name = $2), done AS (UPDATE build_jobs SET status = $4, finished_at = " +
      kPgNowMillis +
      ", lease_until = NULL, error = $5, artifact_key = $6, artifact_sha256 = $7, "
      "artifact_size = $8, release = $9 WHERE id = $1 AND builder = $2 AND attempt = $3 AND "
      "status = " +
      Word(BuildJobStatus::kRunning) + " RETURNING id) SELECT id, " +
      PgNotifySql(kPgJobsChannel, "done", "id") + " FROM done";
  const PgParams params = {PgInt(job_id),
                           PgText(builder),
                           PgInt(attempt),
                           PgText(ToString(outcome.status)),
                           PgText(outcome.error),
                           PgText(outcome.artifact_key),
                           PgText(outcome.artifact_sha256),
                           PgInt(outcome.artifact_size),
                           PgText(outcome.release)};
  const std::string holder = "attempt " + std::to_string(attempt) + " on " + builder;
  Status finished = co_await ChangeAttempt(what, job_id, holder, sql, params);
  co_return finished;
}

Awaitable<Status> Queue::Cancel(int64_t job_id, std::string why) {
  // The builder keeps its name on a cancelled running job: it says who was
  // building it.
  static const std::string sql =
      "WITH done AS (UPDATE build_jobs SET status = " + Word(BuildJobStatus::kCancelled) +
      ", finished_at = " + kPgNowMillis +
      ", lease_until = NULL, error = $2 WHERE id = $1 AND status IN (" +
      Word(BuildJobStatus::kQueued) + ", " + Word(BuildJobStatus::kRunning) +
      ") RETURNING id) SELECT id, " + PgNotifySql(kPgJobsChannel, "done", "id") + " FROM done";
  const PgParams params = {PgInt(job_id), PgText(why)};
  const std::string what = "cancel build job " + std::to_string(job_id);
  auto done = co_await Run(what, sql, params);
  if (!done.ok()) co_return done.status();
  if (!done->rows.empty()) co_return Status::Ok();
  auto now = co_await Get(job_id);
  if (!now.ok()) co_return now.status();
  co_return Status::Conflict("build queue: " + what + ": " + StateOf(*now));
}

Awaitable<Result<std::vector<BuildJobRow>>> Queue::ReclaimExpired() {
  // One statement, so one transaction: the jobs go back to the queue, the
  // steps their lost builders were running are marked interrupted, and
  // everyone is told, all together or not at all. SKIP LOCKED: a job
  // another process is reclaiming (or a builder renewing) right now is left
  // to it; once that commits, the row is checked again and no longer
  // matches. Data-modifying WITH queries run whether or not they are read.
  // Notifications with the same payload in one transaction are sent once.
  static const std::string why =
      "'builder ' || coalesce(e.builder, '?') || "
      "' stopped answering (lease expired)'";
  static const std::string sql =
      "WITH expired AS (SELECT id, deployment_id, builder FROM build_jobs WHERE status = " +
      Word(BuildJobStatus::kRunning) + " AND lease_until < " + kPgNowMillis +
      " ORDER BY id FOR UPDATE SKIP LOCKED), requeued AS (UPDATE build_jobs j SET status = " +
      Word(BuildJobStatus::kQueued) + ", builder = NULL, lease_until = NULL, error = " + why +
      " FROM expired e WHERE j.id = e.id RETURNING " + JobColumns("j.") +
      "), interrupted AS (UPDATE steps s SET status = " + Word(StepStatus::kInterrupted) +
      ", finished_at = " + kPgNowMillis + ", error = " + why +
      " FROM expired e WHERE s.deployment_id = e.deployment_id AND s.status = " +
      Word(StepStatus::kRunning) + ") SELECT " + JobColumns() + ", " +
      PgNotifySql(kPgJobsChannel, "queued", "id") + ", " +
      PgNotifySql(kPgChangesChannel, "deployment", "deployment_id") + " FROM requeued ORDER BY id";
  const PgParams none;
  const std::string what = "reclaim expired leases";
  auto requeued = co_await Run(what, sql, none);
  if (!requeued.ok()) co_return requeued.status();
  std::vector<BuildJobRow> out;
  for (const auto& r : requeued->rows) out.push_back(ReadJob(r));
  co_return out;
}

Awaitable<Result<BuildJobRow>> Queue::Get(int64_t job_id) {
  static const std::string sql = "SELECT " + JobColumns() + " FROM build_jobs WHERE id = $1";
  const PgParams params = {PgInt(job_id)};
  const std::string what = "get build job " + std::to_string(job_id);
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  if (got->rows.empty())
    co_return Status::NotFound("build queue: no build job " + std::to_string(job_id));
  co_return ReadJob(got->rows[0]);
}

Awaitable<Result<std::vector<BuildJobRow>>> Queue::JobsOfDeployment(int64_t deployment_id) {
  static const std::string sql =
      "SELECT " + JobColumns() + " FROM build_jobs WHERE deployment_id = $1 ORDER BY id";
  const PgParams params = {PgInt(deployment_id)};
  const std::string what = "build jobs of deployment " + std::to_string(deployment_id);
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  std::vector<BuildJobRow> out;
  for (const auto& row : got->rows) out.push_back(ReadJob(row));
  co_return out;
}

Awaitable<Result<std::optional<BuildJobRow>>> Queue::FindReusable(BuildJobSpec spec) {
  const std::string what = "find a build of " + spec.project + " at " + spec.commit;
  if (spec.project.empty() || spec.commit.empty()) {
    co_return Status::InvalidArgument("build queue: " + what +
                                      ": a reusable build is found by its project and commit");
  }
  // Text and arrays compare as the same conversions (PgValidText) stored
  // them; arrays equal element by element, in order. A job whose artifact
  // was pruned (ForgetArtifact) has artifact_key '' and is passed by.
  static const std::string sql =
      "SELECT " + JobColumns() +
      " FROM build_jobs WHERE project = $1 AND commit_sha = $2 AND build = $3 AND test = $4 "
      "AND artifacts = $5::text[] AND env = $6::text[] AND (status IN (" +
      Word(BuildJobStatus::kQueued) + ", " + Word(BuildJobStatus::kRunning) +
      ") OR (status = " + Word(BuildJobStatus::kSucceeded) +
      " AND artifact_key <> '')) ORDER BY id DESC LIMIT 1";
  const PgParams params = {PgText(spec.project),        PgText(spec.commit),
                           PgText(spec.build),          PgText(spec.test),
                           PgTextArray(spec.artifacts), PgTextArray(spec.env)};
  auto found = co_await Run(what, sql, params);
  if (!found.ok()) co_return found.status();
  if (found->rows.empty()) co_return std::optional<BuildJobRow>();
  co_return std::optional<BuildJobRow>(ReadJob(found->rows[0]));
}

Awaitable<Result<std::vector<BuildJobRow>>> Queue::ListArtifacts(std::string project) {
  static const std::string sql =
      "SELECT " + JobColumns() +
      " FROM build_jobs WHERE project = $1 AND status = " + Word(BuildJobStatus::kSucceeded) +
      " AND artifact_key <> '' ORDER BY finished_at DESC, id DESC";
  const PgParams params = {PgText(project)};
  const std::string what = "artifacts of " + project;
  auto listed = co_await Run(what, sql, params);
  if (!listed.ok()) co_return listed.status();
  std::vector<BuildJobRow> out;
  for (const auto& row : listed->rows) out.push_back(ReadJob(row));
  co_return out;
}

Awaitable<Status> Queue::ForgetArtifact(int64_t job_id) {
  static const std::string sql =
      "UPDATE build_jobs SET artifact_key = '', artifact_sha256 = '', artifact_size = 0 "
      "WHERE id = $1 RETURNING id";
  const PgParams params = {PgInt(job_id)};
  const std::string what = "forget the artifact of build job " + std::to_string(job_id);
  auto done = co_await Run(what, sql, params);
  if (!done.ok()) co_return done.status();
  if (done->rows.empty()) {
    co_return Status::NotFound("build queue: no build job " + std::to_string(job_id));
  }
  co_return Status::Ok();
}

Awaitable<Result<std::vector<QueuedJobView>>> Queue::ListOpen() {
  static const std::string jobs_sql =
      "SELECT " + JobColumns() + " FROM build_jobs WHERE status IN (" +
      Word(BuildJobStatus::kQueued) + ", " + Word(BuildJobStatus::kRunning) + ") ORDER BY id";
  static const std::string builders_sql =
      "SELECT name, labels, slots FROM builders WHERE seen_at >= " + kPgNowMillis +
      " - $1::bigint ORDER BY name";
  const PgParams none;
  const std::string what = "list open build jobs";
  auto jobs = co_await Run(what, jobs_sql, none);
  if (!jobs.ok()) co_return jobs.status();
  const PgParams window = {PgInt(options_.builder_alive.count())};
  auto alive = co_await Run(what, builders_sql, window);
  if (!alive.ok()) co_return alive.status();

  std::vector<QueuedJobView> out;
  for (const auto& r : jobs->rows) out.push_back({ReadJob(r), ""});
  // The live builders' free slots, then the queued jobs handed out in the
  // order claims take them. Greedy, and so an estimate of who waits for
  // what: each job goes to the builder with the fewest labels that has a
  // free slot, which keeps the specialised builders for the jobs that need
  // them.
  struct Capacity {
    BuilderInfo builder;
    int free = 0;
  };
  std::vector<Capacity> capacity;
  for (const auto& r : alive->rows) {
    BuilderInfo b{PgStr(r[0]), PgParseTextArray(r[1]), static_cast<int>(PgToInt(r[2]))};
    int running = 0;
    for (const auto& v : out) {
      if (v.job.status == BuildJobStatus::kRunning && v.job.builder == b.name) ++running;
    }
    capacity.push_back({std::move(b), 0});
    capacity.back().free = std::max(0, capacity.back().builder.slots - running);
  }
  std::stable_sort(capacity.begin(), capacity.end(), [](const Capacity& a, const Capacity& b) {
    return a.builder.labels.size() < b.builder.labels.size();
  });
  for (auto& v : out) {
    if (v.job.status != BuildJobStatus::kQueued) continue;
    const auto& need = v.job.spec.labels;
    bool capable = false, placed = false;
    for (auto& c : capacity) {
      if (!Covers(c.builder.labels, need)) continue;
      capable = true;
      if (c.free > 0) {
        --c.free;
        placed = true;
        break;
      }
    }
    if (!capable) {
      v.waiting_for =
          need.empty() ? "no builder is alive" : "no builder has labels " + Join(need, ", ");
    } else if (!placed) {
      v.waiting_for = "all builders with its labels are busy";
    } else {
      v.waiting_for = "waiting for a free builder to claim it";
    }
  }
  co_return out;
}

}  // namespace anthill::store
