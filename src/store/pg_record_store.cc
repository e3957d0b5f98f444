#include "store/pg_record_store.h"

#include <algorithm>
#include <charconv>

#include "store/pg_cells.h"
#include "store/pg_change_listener.h"
#include "store/pg_schema.h"

namespace anthill::store {

namespace {

PgCell Millis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return PgInt(ToUnixMillis(*t));
}
PgCell IdOrNull(int64_t id) { return id > 0 ? PgInt(id) : std::nullopt; }

// The call that tells listeners a deployment changed, in the same statement
// (and so the same transaction) as the write; `id` is a column of the
// statement's rows.
std::string NotifyDeployment(const std::string& id) {
  return PgNotifySql(kPgChangesChannel, "deployment", id);
}
std::string NotifyProject(const std::string& project) {
  return PgNotifySql(kPgChangesChannel, "project", project);
}

// A deployment with its steps, in one statement (one snapshot, one round
// trip): `inner` selects deployments rows; each comes back once per step,
// or once with NULL step columns when it has none.
// WithSteps, with the agents' steps of each deployment folded into one per
// step name (DeploymentFilter::fold_agent_steps). LATERAL: each
// deployment's steps are found by its index, not all steps grouped.
std::string WithFoldedSteps(const std::string& inner) {
  return "SELECT d.id, d.project, d.machine, d.from_version, d.to_version, d.from_commit, "
         "d.to_commit, d.ref, d.trigger, d.actor, d.status, d.started_at, d.finished_at, "
         "d.error, d.release, s.id, s.name, s.status, s.started_at, s.finished_at, s.error, "
         "s.machine FROM (" +
         inner +
         ") d LEFT JOIN LATERAL (SELECT id, name, status, started_at, finished_at, error, "
         "machine FROM steps WHERE deployment_id = d.id AND agent_key IS NULL UNION ALL SELECT "
         "min(id), name, CASE WHEN bool_or(status = 'running') THEN 'running' WHEN "
         "bool_or(status = 'failed') THEN 'failed' WHEN bool_or(status = 'interrupted') THEN "
         "'interrupted' ELSE min(status) END, min(started_at), CASE WHEN bool_or(finished_at IS "
         "NULL) THEN NULL ELSE max(finished_at) END, coalesce(min(error) FILTER (WHERE status = "
         "'failed'), ''), count(DISTINCT machine) || CASE WHEN count(DISTINCT machine) = 1 THEN "
         "' machine' ELSE ' machines' END FROM steps WHERE deployment_id = d.id AND agent_key IS "
         "NOT NULL GROUP BY name) s ON true ORDER BY d.id DESC, s.started_at, s.id";
}

std::string WithSteps(const std::string& inner) {
  return "SELECT d.id, d.project, d.machine, d.from_version, d.to_version, d.from_commit, "
         "d.to_commit, d.ref, d.trigger, d.actor, d.status, d.started_at, d.finished_at, "
         "d.error, d.release, s.id, s.name, s.status, s.started_at, s.finished_at, s.error, "
         "s.machine "
         "FROM (" +
         inner +
         ") d LEFT JOIN steps s ON s.deployment_id = d.id ORDER BY d.id DESC, s.started_at, s.id";
}

std::vector<Deployment> ReadDeployments(const PgResult& result) {
  std::vector<Deployment> out;
  for (const auto& r : result.rows) {
    if (out.empty() || out.back().id != PgToInt(r[0])) {
      Deployment& d = out.emplace_back();
      d.id = PgToInt(r[0]);
      d.project = PgStr(r[1]);
      d.machine = PgStr(r[2]);
      d.from_version = PgStr(r[3]);
      d.to_version = PgStr(r[4]);
      d.from_commit = PgStr(r[5]);
      d.to_commit = PgStr(r[6]);
      d.ref = PgStr(r[7]);
      d.trigger = ParseTrigger(PgStr(r[8])).value_or(Trigger::kPoll);
      d.actor = PgStr(r[9]);
      d.status = ParseDeploymentStatus(PgStr(r[10])).value_or(DeploymentStatus::kInterrupted);
      d.started_at = FromUnixMillis(PgToInt(r[11]));
      d.finished_at = PgMaybeTime(r[12]);
      d.error = PgStr(r[13]);
      d.release = PgStr(r[14]);
    }
    if (!r[15]) continue;  // no steps
    Step& step = out.back().steps.emplace_back();
    step.id = PgToInt(r[15]);
    step.deployment_id = out.back().id;
    step.name = ParseStepName(PgStr(r[16])).value_or(StepName::kUnknown);
    step.status = ParseStepStatus(PgStr(r[17])).value_or(StepStatus::kInterrupted);
    step.started_at = FromUnixMillis(PgToInt(r[18]));
    step.finished_at = PgMaybeTime(r[19]);
    step.error = PgStr(r[20]);
    step.machine = PgStr(r[21]);
  }
  return out;
}

// Every column an update writes, in order (project, which never changes,
// is not one): $2.. of the update, $3.. of the insert.
PgParams DeploymentFields(const Deployment& d) {
  return {PgText(d.machine),
          PgText(d.from_version),
          PgText(d.to_version),
          PgText(d.from_commit),
          PgText(d.to_commit),
          PgText(d.ref),
          PgText(ToString(d.trigger)),
          PgText(d.actor),
          PgText(ToString(d.status)),
          PgInt(ToUnixMillis(d.started_at)),
          Millis(d.finished_at),
          PgText(d.error),
          PgText(d.release)};
}

}  // namespace

using Store = PgRecordStore;
template <typename T>
using Awaitable = AsyncRecordStore::Awaitable<T>;

Store::PgRecordStore(boost::asio::any_io_executor executor, std::string conninfo,
                     std::string machine)
    : pool_(std::move(executor), std::move(conninfo)), machine_(std::move(machine)) {}

Awaitable<Result<std::unique_ptr<Store>>> Store::Open(boost::asio::any_io_executor executor,
                                                      std::string conninfo, std::string machine) {
  std::unique_ptr<Store> store(
      new Store(std::move(executor), std::move(conninfo), std::move(machine)));
  auto lease = co_await store->pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("store");
  PgConnection& conn = **lease;
  Status migrated = co_await MigratePgSchema(conn);
  if (!migrated.ok()) co_return migrated.Prefixed("store");
  // The lease, made after the store, is given back before it can go.
  co_return std::move(store);
}

Awaitable<Result<PgResult>> Store::Run(const std::string& what, const std::string& sql,
                                       const PgParams& params) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("store: " + what);
  PgConnection& conn = **lease;
  auto result = co_await conn.Query(sql, params);
  if (!result.ok()) co_return result.status().Prefixed("store: " + what);
  co_return result;
}

Awaitable<Result<int64_t>> Store::CreateDeployment(Deployment d) {
  static const std::string sql =
      "WITH made AS (INSERT INTO deployments (id, project, machine, from_version, to_version, "
      "from_commit, to_commit, ref, trigger, actor, status, started_at, finished_at, error, "
      "release) VALUES (coalesce($1::bigint, nextval(pg_get_serial_sequence('deployments', "
      "'id'))), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id) "
      "SELECT id, " +
      NotifyDeployment("id") + " FROM made";
  PgParams params = {IdOrNull(d.id), PgText(d.project)};
  for (auto& field : DeploymentFields(d)) params.push_back(std::move(field));
  const std::string what = "insert deployment";
  auto made = co_await Run(what, sql, params);
  if (!made.ok()) co_return made.status();
  co_return PgToInt(made->rows.at(0).at(0));
}

Awaitable<Status> Store::UpdateDeployment(Deployment d) {
  static const std::string sql =
      "WITH changed AS (UPDATE deployments SET machine=$2, from_version=$3, to_version=$4, "
      "from_commit=$5, to_commit=$6, ref=$7, trigger=$8, actor=$9, status=$10, started_at=$11, "
      "finished_at=$12, error=$13, release=$14 WHERE id=$1 RETURNING id) SELECT " +
      NotifyDeployment("id") + " FROM changed";
  PgParams params = {PgInt(d.id)};
  for (auto& field : DeploymentFields(d)) params.push_back(std::move(field));
  const std::string what = "update deployment " + std::to_string(d.id);
  auto changed = co_await Run(what, sql, params);
  co_return changed.status();
}

Awaitable<Result<int64_t>> Store::StartStep(int64_t deployment_id, StepName name,
                                            TimePoint started_at) {
  const int64_t from_database = 0;
  auto step = co_await StartStepWithId(from_database, deployment_id, name, started_at);
  co_return step;
}

Awaitable<Result<int64_t>> Store::StartStepWithId(int64_t step_id, int64_t deployment_id,
                                                  StepName name, TimePoint started_at) {
  static const std::string sql =
      "WITH made AS (INSERT INTO steps (id, deployment_id, name, status, started_at) VALUES "
      "(coalesce($1::bigint, nextval(pg_get_serial_sequence('steps', 'id'))), $2, $3, $4, $5) "
      "RETURNING id, deployment_id) SELECT id, " +
      NotifyDeployment("deployment_id") + " FROM made";
  const PgParams params = {IdOrNull(step_id), PgInt(deployment_id), PgText(ToString(name)),
                           PgText(ToString(StepStatus::kRunning)), PgInt(ToUnixMillis(started_at))};
  const std::string what = "insert step";
  auto made = co_await Run(what, sql, params);
  if (!made.ok()) co_return made.status();
  co_return PgToInt(made->rows.at(0).at(0));
}

Awaitable<Status> Store::FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                                    std::string error) {
  static const std::string sql =
      "WITH changed AS (UPDATE steps SET status=$2, finished_at=$3, error=$4 WHERE id=$1 "
      "RETURNING deployment_id) SELECT " +
      NotifyDeployment("deployment_id") + " FROM changed";
  const PgParams params = {PgInt(step_id), PgText(ToString(status)),
                           PgInt(ToUnixMillis(finished_at)), PgText(error)};
  const std::string what = "finish step";
  auto changed = co_await Run(what, sql, params);
  co_return changed.status();
}

Awaitable<Result<std::optional<Deployment>>> Store::GetDeployment(int64_t id) {
  static const std::string sql = WithSteps("SELECT * FROM deployments WHERE id = $1");
  const PgParams params = {PgInt(id)};
  const std::string what = "get deployment";
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  auto list = ReadDeployments(*got);
  if (list.empty()) co_return std::optional<Deployment>();
  co_return std::optional<Deployment>(std::move(list[0]));
}

Awaitable<Result<std::vector<Deployment>>> Store::ListDeployments(DeploymentFilter f) {
  // Keyset paging on the primary key, and only the filters that are set in
  // the SQL, so the planner can use the (project, id), (machine, id) or
  // (status, id) index (the same plan as SQLite's).
  PgParams params;
  std::string where;
  auto add = [&](const std::string& condition, PgCell value) {
    params.push_back(std::move(value));
    where += (where.empty() ? " WHERE " : " AND ") + condition + std::to_string(params.size());
  };
  if (!f.project.empty()) add("project = $", PgText(f.project));
  if (!f.machine.empty()) add("machine = $", PgText(f.machine));
  if (f.status) add("status = $", PgText(ToString(*f.status)));
  if (f.before_id > 0) add("id < $", PgInt(f.before_id));
  if (f.after_id > 0) add("id > $", PgInt(f.after_id));
  // Paging back (after=) takes the oldest rows above the key; the outer
  // ORDER BY turns them newest first like every page.
  const bool backwards = f.after_id > 0 && f.before_id <= 0;
  params.push_back(PgInt(std::clamp(f.limit, 1, 1000)));
  const std::string inner = "SELECT * FROM deployments" + where +
                            (backwards ? " ORDER BY id ASC" : " ORDER BY id DESC") + " LIMIT $" +
                            std::to_string(params.size());
  const std::string sql = f.fold_agent_steps ? WithFoldedSteps(inner) : WithSteps(inner);
  const std::string what = "list deployments";
  auto listed = co_await Run(what, sql, params);
  if (!listed.ok()) co_return listed.status();
  co_return ReadDeployments(*listed);
}

Awaitable<Result<RecordStore::Neighbours>> Store::DeploymentNeighbours(int64_t id,
                                                                       std::string project) {
  // Two index seeks on (project, id).
  static const std::string sql =
      "SELECT (SELECT max(id) FROM deployments WHERE project = $1 AND id < $2), "
      "(SELECT min(id) FROM deployments WHERE project = $1 AND id > $2)";
  const PgParams params = {PgText(project), PgInt(id)};
  const std::string what = "neighbours";
  auto found = co_await Run(what, sql, params);
  if (!found.ok()) co_return found.status();
  RecordStore::Neighbours n;
  n.previous = PgToInt(found->rows.at(0).at(0));
  n.next = PgToInt(found->rows.at(0).at(1));
  co_return n;
}

Awaitable<Result<std::optional<Deployment>>> Store::LatestDeployment(
    std::string project, std::optional<DeploymentStatus> status) {
  DeploymentFilter f;
  f.project = std::move(project);
  f.status = status;
  f.limit = 1;
  auto list = co_await ListDeployments(f);
  if (!list.ok()) co_return list.status();
  if (list->empty()) co_return std::optional<Deployment>();
  co_return std::optional<Deployment>(std::move(list->front()));
}

Awaitable<Result<std::vector<RecordStore::StatusCount>>> Store::CountDeployments() {
  // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
  static const std::string sql =
      "SELECT project, status, count(*) FROM deployments GROUP BY project, status "
      "ORDER BY project COLLATE \"C\", status COLLATE \"C\"";
  const PgParams none;
  const std::string what = "count deployments";
  auto counted = co_await Run(what, sql, none);
  if (!counted.ok()) co_return counted.status();
  std::vector<RecordStore::StatusCount> out;
  for (const auto& r : counted->rows) {
    if (auto status = ParseDeploymentStatus(PgStr(r[1]))) {
      out.push_back({PgStr(r[0]), *status, PgToInt(r[2])});
    }
  }
  co_return out;
}

namespace {

// Interrupts what is unfinished among the deployments whose `column`
// (machine: who recorded them; project) is $3, in one statement: the
// updates see the rows as they were, so the steps are found by their
// deployments whatever the deployments' update does, and all happen or
// none. A rollout's machines whose part had not ended are interrupted with
// their deployment (not left "switching" for ever). Each deployment touched
// (itself or a step of it) is notified; the count is of deployments.
std::string InterruptSql(const std::string& column) {
  return "WITH steps_done AS (UPDATE steps SET status = 'interrupted', finished_at = $1, "
         "error = $2 WHERE status = 'running' AND deployment_id IN (SELECT id FROM deployments "
         "WHERE " +
         column +
         " = $3) RETURNING deployment_id), "
         "deployments_done AS (UPDATE deployments SET status = 'interrupted', finished_at = $1, "
         "error = $2 WHERE status IN ('queued', 'running') AND " +
         column +
         " = $3 RETURNING id), "
         "machines_done AS (UPDATE deployment_machines SET status = 'interrupted', "
         "finished_at_ms = $1, error = $2 WHERE status IN ('waiting', 'fetching', 'fetched', "
         "'switching') AND deployment_id IN (SELECT id FROM deployments_done)) "
         "SELECT (SELECT count(*) FROM deployments_done), " +
         NotifyDeployment("touched.id") +
         " FROM (SELECT id FROM deployments_done UNION SELECT deployment_id FROM steps_done) "
         "AS touched";
}

}  // namespace

Awaitable<Result<int>> Store::InterruptUnfinished(TimePoint now, std::string why) {
  static const std::string sql = InterruptSql("machine");
  const PgParams params = {PgInt(ToUnixMillis(now)), PgText(why), PgText(machine_)};
  const std::string what = "interrupt";
  auto done = co_await Run(what, sql, params);
  if (!done.ok()) co_return done.status();
  co_return done->rows.empty() ? 0 : static_cast<int>(PgToInt(done->rows[0][0]));
}

Awaitable<Result<int>> Store::InterruptUnfinishedOfProject(TimePoint now, std::string project,
                                                           std::string why) {
  // The project's rows, whoever recorded them (the (project, id) index
  // finds them).
  static const std::string sql = InterruptSql("project");
  const PgParams params = {PgInt(ToUnixMillis(now)), PgText(why), PgText(project)};
  const std::string what = "interrupt project " + project;
  auto done = co_await Run(what, sql, params);
  if (!done.ok()) co_return done.status();
  co_return done->rows.empty() ? 0 : static_cast<int>(PgToInt(done->rows[0][0]));
}

Awaitable<Result<std::optional<int64_t>>> Store::RecordHookEvent(HookEvent e) {
  // A replay finds the partial unique index's row: nothing is inserted and
  // nothing returned.
  static const std::string sql =
      "INSERT INTO hook_events (received_at, source, delivery_id, event, repository, ref, "
      "commit_sha, pusher, verdict, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
      "ON CONFLICT (source, delivery_id) WHERE delivery_id <> '' DO NOTHING RETURNING id";
  const PgParams params = {PgInt(ToUnixMillis(e.received_at)),
                           PgText(e.source),
                           PgText(e.delivery_id),
                           PgText(e.event),
                           PgText(e.repository),
                           PgText(e.ref),
                           PgText(e.commit),
                           PgText(e.pusher),
                           PgText(e.verdict),
                           PgByteaHex(e.body)};
  const std::string what = "record hook";
  auto made = co_await Run(what, sql, params);
  if (!made.ok()) co_return made.status();
  if (made->rows.empty()) co_return std::optional<int64_t>();
  co_return std::optional<int64_t>(PgToInt(made->rows[0][0]));
}

Awaitable<Status> Store::SetHookVerdict(int64_t id, std::string verdict) {
  static const std::string sql = "UPDATE hook_events SET verdict = $2 WHERE id = $1";
  const PgParams params = {PgInt(id), PgText(verdict)};
  const std::string what = "hook verdict";
  auto set = co_await Run(what, sql, params);
  co_return set.status();
}

Awaitable<Result<std::vector<HookEvent>>> Store::ListHookEvents(int limit, int64_t before_id) {
  static const std::string sql =
      "SELECT id, received_at, source, delivery_id, event, repository, ref, commit_sha, pusher, "
      "verdict FROM hook_events WHERE $1::bigint <= 0 OR id < $1 ORDER BY id DESC LIMIT $2";
  const PgParams params = {PgInt(before_id), PgInt(std::clamp(limit, 1, 1000))};
  const std::string what = "hook events";
  auto listed = co_await Run(what, sql, params);
  if (!listed.ok()) co_return listed.status();
  std::vector<HookEvent> out;
  for (const auto& r : listed->rows) {
    HookEvent& e = out.emplace_back();
    e.id = PgToInt(r[0]);
    e.received_at = FromUnixMillis(PgToInt(r[1]));
    e.source = PgStr(r[2]);
    e.delivery_id = PgStr(r[3]);
    e.event = PgStr(r[4]);
    e.repository = PgStr(r[5]);
    e.ref = PgStr(r[6]);
    e.commit = PgStr(r[7]);
    e.pusher = PgStr(r[8]);
    e.verdict = PgStr(r[9]);
  }
  co_return out;
}

Awaitable<Status> Store::AddPin(Pin pin) {
  // A commit pinned again keeps its first reason: the insert does nothing.
  static const std::string sql =
      "WITH made AS (INSERT INTO pins (project, commit_sha, reason, at) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT DO NOTHING RETURNING project) SELECT " +
      NotifyProject("project") + " FROM made";
  const PgParams params = {PgText(pin.project), PgText(pin.commit), PgText(pin.reason),
                           PgInt(ToUnixMillis(pin.at))};
  const std::string what = "pin";
  auto made = co_await Run(what, sql, params);
  co_return made.status();
}

Awaitable<Status> Store::RemovePin(std::string project, std::string commit) {
  static const std::string sql =
      "WITH gone AS (DELETE FROM pins WHERE project = $1 AND commit_sha = $2 RETURNING project) "
      "SELECT " +
      NotifyProject("project") + " FROM gone";
  const PgParams params = {PgText(project), PgText(commit)};
  const std::string what = "unpin";
  auto gone = co_await Run(what, sql, params);
  co_return gone.status();
}

Awaitable<Result<std::vector<Pin>>> Store::ListPins(std::string project) {
  static const std::string sql =
      "SELECT project, commit_sha, reason, at FROM pins WHERE project = $1 "
      "ORDER BY at DESC, id DESC";
  const PgParams params = {PgText(project)};
  const std::string what = "pins";
  auto listed = co_await Run(what, sql, params);
  if (!listed.ok()) co_return listed.status();
  std::vector<Pin> out;
  for (const auto& r : listed->rows) {
    out.push_back(Pin{PgStr(r[0]), PgStr(r[1]), PgStr(r[2]), FromUnixMillis(PgToInt(r[3]))});
  }
  co_return out;
}

Awaitable<Result<std::vector<int64_t>>> Store::ReserveDeploymentIds(int n) {
  const std::string table = "deployments";
  auto ids = co_await Reserve(table, n);
  co_return ids;
}

Awaitable<Result<std::vector<int64_t>>> Store::ReserveStepIds(int n) {
  const std::string table = "steps";
  auto ids = co_await Reserve(table, n);
  co_return ids;
}

Awaitable<Result<std::vector<int64_t>>> Store::Reserve(const std::string& table, int n) {
  if (n < 1 || n > 10000) {
    co_return Status::InvalidArgument("store: reserve " + table + " ids: " + std::to_string(n) +
                                      " is not in [1, 10000]");
  }
  // The table is one of two names of ours, and a value for
  // pg_get_serial_sequence: a parameter all the same.
  static const std::string sql =
      "SELECT nextval(pg_get_serial_sequence($1, 'id')) FROM generate_series(1, $2::int) "
      "ORDER BY 1";
  const PgParams params = {table, PgInt(n)};
  const std::string what = "reserve " + table + " ids";
  auto reserved = co_await Run(what, sql, params);
  if (!reserved.ok()) co_return reserved.status();
  std::vector<int64_t> ids;
  for (const auto& r : reserved->rows) ids.push_back(PgToInt(r[0]));
  co_return ids;
}

}  // namespace anthill::store
