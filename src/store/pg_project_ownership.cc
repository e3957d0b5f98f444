#include "store/pg_project_ownership.h"

#include <algorithm>
#include <charconv>

#include "store/pg_cells.h"
#include "store/pg_schema.h"

namespace anthill::store {

namespace asio = boost::asio;

namespace {

std::string Notify(const std::string& prefix, const std::string& project) {
  return PgNotifySql(kPgOwnersChannel, prefix, project);
}

// The kinds this build knows, as a SQL list ('deploy', 'rollback', ...):
// the words come from their one table (project_ownership.h).
std::string KnownKinds() {
  std::string out;
  for (const auto& [kind, word] : kForwardedKindWords) {
    out += (out.empty() ? "(" : ", ") + ("'" + std::string(word) + "'");
  }
  return out + ")";
}

const std::string kHolderColumns = "project, holder_id, machine, url, since_ms, until_ms";

ProjectHolder ReadHolder(const std::vector<PgCell>& r) {
  ProjectHolder h;
  h.project = PgStr(r[0]);
  h.holder.id = PgStr(r[1]);
  h.holder.machine = PgStr(r[2]);
  h.holder.url = PgStr(r[3]);
  h.since = FromUnixMillis(PgToInt(r[4]));
  h.until = FromUnixMillis(PgToInt(r[5]));
  return h;
}

// The columns of an action, in the order ReadAction reads them.
const std::string kActionColumns =
    "id, project, kind, ref, commit_sha, version, deployment_id, trigger, actor, received_by, "
    "received_at_ms, taken_at_ms, taken_by, answer";

// An action as kept; an error when its kind is not one this build knows
// (TakeForwarded never takes those, but GetForwarded may read one).
Result<ForwardedAction> ReadAction(const std::vector<PgCell>& r) {
  ForwardedAction a;
  a.id = PgToInt(r[0]);
  a.project = PgStr(r[1]);
  const std::string word = PgStr(r[2]);
  const auto kind = ParseForwardedKind(word);
  if (!kind) {
    return Status::Internal("project ownership: forwarded action " + std::to_string(a.id) +
                            " is a '" + word + "', which this Anthill does not know");
  }
  a.kind = *kind;
  a.ref = PgStr(r[3]);
  a.commit = PgStr(r[4]);
  a.version = PgStr(r[5]);
  a.deployment_id = PgToInt(r[6]);
  a.trigger = PgStr(r[7]);
  a.actor = PgStr(r[8]);
  a.received_by = PgStr(r[9]);
  a.received_at = FromUnixMillis(PgToInt(r[10]));
  a.taken_at = PgMaybeTime(r[11]);
  a.taken_by = PgStr(r[12]);
  a.answer = PgStr(r[13]);
  return a;
}

}  // namespace

using Ownership = PgProjectOwnership;
template <typename T>
using Awaitable = ProjectOwnership::Awaitable<T>;

Ownership::PgProjectOwnership(asio::any_io_executor executor, std::string conninfo, Options options)
    : pool_(std::move(executor), std::move(conninfo), options.connections), options_(options) {}

Awaitable<Result<std::unique_ptr<Ownership>>> Ownership::Open(asio::any_io_executor executor,
                                                              std::string conninfo,
                                                              Options options) {
  std::unique_ptr<Ownership> ownership(
      new Ownership(std::move(executor), std::move(conninfo), options));
  auto lease = co_await ownership->pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("project ownership");
  PgConnection& conn = **lease;
  Status migrated = co_await MigratePgSchema(conn);
  if (!migrated.ok()) co_return migrated.Prefixed("project ownership");
  co_return std::move(ownership);
}

Awaitable<Result<PgResult>> Ownership::Run(const std::string& what, const std::string& sql,
                                           const PgParams& params) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("project ownership: " + what);
  PgConnection& conn = **lease;
  auto result = co_await conn.Query(sql, params);
  if (!result.ok()) co_return result.status().Prefixed("project ownership: " + what);
  co_return result;
}

Awaitable<Result<std::vector<std::string>>> Ownership::Hold(std::vector<std::string> projects,
                                                            OrchestratorId me) {
  if (me.id.empty()) {
    co_return Status::InvalidArgument("project ownership: hold: a holder needs an id");
  }
  if (projects.empty()) co_return std::vector<std::string>{};
  // One statement for every project. A row that exists is locked and its
  // condition judged on its latest committed version (READ COMMITTED's
  // ON CONFLICT DO UPDATE): renewed when it is ours, taken when its lease
  // ran out, else left and not returned. A project two callers insert at
  // once makes the second wait for the first's commit, then see its row.
  // DISTINCT: one row may not be changed twice by one statement. ORDER BY:
  // every caller locks rows in the same order, so none waits crosswise.
  static const std::string sql =
      "INSERT INTO project_holders AS h (" + kHolderColumns +
      ") SELECT p, $2::text, $3::text, $4::text, " + kPgNowMillis + ", " + kPgNowMillis +
      " + $5::bigint FROM (SELECT DISTINCT unnest($1::text[]) AS p) AS wanted ORDER BY p "
      "ON CONFLICT (project) DO UPDATE SET since_ms = CASE WHEN h.holder_id = "
      "excluded.holder_id THEN h.since_ms ELSE excluded.since_ms END, holder_id = "
      "excluded.holder_id, machine = excluded.machine, url = excluded.url, until_ms = "
      "excluded.until_ms WHERE h.holder_id = excluded.holder_id OR h.until_ms <= " +
      kPgNowMillis + " RETURNING project";
  const PgParams params = {PgTextArray(projects), PgText(me.id), PgText(me.machine), PgText(me.url),
                           PgInt(options_.lease.count())};
  const std::string what = "hold for " + me.id;
  auto held = co_await Run(what, sql, params);
  if (!held.ok()) co_return held.status();
  std::vector<std::string> out;
  for (const auto& r : held->rows) out.push_back(PgStr(r[0]));
  std::sort(out.begin(), out.end());
  co_return out;
}

Awaitable<Status> Ownership::Release(std::vector<std::string> projects, std::string holder_id) {
  if (projects.empty()) co_return Status::Ok();
  static const std::string sql =
      "WITH gone AS (DELETE FROM project_holders WHERE holder_id = $2 AND project = "
      "ANY($1::text[]) RETURNING project) SELECT project, " +
      Notify("released", "project") + " FROM gone";
  const PgParams params = {PgTextArray(projects), PgText(holder_id)};
  const std::string what = "release for " + holder_id;
  auto gone = co_await Run(what, sql, params);
  co_return gone.status();
}

Awaitable<Result<std::vector<ProjectHolder>>> Ownership::Holders() {
  static const std::string sql =
      "SELECT " + kHolderColumns + " FROM project_holders ORDER BY project";
  const PgParams none;
  const std::string what = "list holders";
  auto got = co_await Run(what, sql, none);
  if (!got.ok()) co_return got.status();
  std::vector<ProjectHolder> out;
  for (const auto& r : got->rows) out.push_back(ReadHolder(r));
  co_return out;
}

Awaitable<Result<int64_t>> Ownership::Forward(ForwardedAction a) {
  if (a.project.empty()) {
    co_return Status::InvalidArgument("project ownership: forward " +
                                      std::string(ToString(a.kind)) + ": no project named");
  }
  // The insert and its notification are one statement: a holder woken by
  // it finds the action committed.
  static const std::string sql =
      "WITH made AS (INSERT INTO forwarded_actions (project, kind, ref, commit_sha, version, "
      "deployment_id, trigger, actor, received_by, received_at_ms) VALUES ($1, $2, $3, $4, $5, "
      "$6, $7, $8, $9, " +
      kPgNowMillis + ") RETURNING id, project) SELECT id, " + Notify("forwarded", "project") +
      " FROM made";
  const PgParams params = {PgText(a.project), PgText(ToString(a.kind)), PgText(a.ref),
                           PgText(a.commit),  PgText(a.version),        PgInt(a.deployment_id),
                           PgText(a.trigger), PgText(a.actor),          PgText(a.received_by)};
  const std::string what = "forward " + std::string(ToString(a.kind)) + " of " + a.project;
  auto made = co_await Run(what, sql, params);
  if (!made.ok()) co_return made.status();
  co_return PgToInt(made->rows.at(0).at(0));
}

Awaitable<Result<std::vector<ForwardedAction>>> Ownership::TakeForwarded(std::string holder_id) {
  // One statement. The untaken actions of the projects the caller holds
  // under a live lease are locked, skipping those another taker has locked
  // right now; under READ COMMITTED a row another taker changed meanwhile
  // is checked again against taken_at_ms IS NULL before it is locked, so it
  // cannot be taken twice. MATERIALIZED: the locking SELECT runs once,
  // whatever plan the UPDATE gets.
  static const std::string sql =
      "WITH picked AS MATERIALIZED (SELECT f.id FROM forwarded_actions f JOIN project_holders h "
      "ON h.project = f.project WHERE f.taken_at_ms IS NULL AND f.kind IN " +
      KnownKinds() + " AND h.holder_id = $1::text AND h.until_ms > " + kPgNowMillis +
      " ORDER BY f.id FOR UPDATE OF f SKIP LOCKED) UPDATE forwarded_actions SET taken_by = "
      "$1::text, taken_at_ms = " +
      kPgNowMillis + " WHERE id IN (SELECT id FROM picked) AND taken_at_ms IS NULL RETURNING " +
      kActionColumns;
  const PgParams params = {PgText(holder_id)};
  const std::string what = "take forwarded actions for " + holder_id;
  auto taken = co_await Run(what, sql, params);
  if (!taken.ok()) co_return taken.status();
  std::vector<ForwardedAction> out;
  for (const auto& r : taken->rows) {
    auto a = ReadAction(r);
    if (!a.ok()) co_return a.status();  // not reached: only known kinds are taken
    out.push_back(std::move(*a));
  }
  std::sort(out.begin(), out.end(),
            [](const ForwardedAction& x, const ForwardedAction& y) { return x.id < y.id; });
  co_return out;
}

Awaitable<Status> Ownership::Answer(int64_t id, std::string answer) {
  static const std::string sql = "UPDATE forwarded_actions SET answer = $2 WHERE id = $1";
  const PgParams params = {PgInt(id), PgText(answer)};
  const std::string what = "answer forwarded action " + std::to_string(id);
  auto done = co_await Run(what, sql, params);
  if (!done.ok()) co_return done.status();
  if (done->affected_rows == 0) {
    co_return Status::NotFound("project ownership: no forwarded action " + std::to_string(id));
  }
  co_return Status::Ok();
}

Awaitable<Result<ForwardedAction>> Ownership::GetForwarded(int64_t id) {
  static const std::string sql =
      "SELECT " + kActionColumns + " FROM forwarded_actions WHERE id = $1";
  const PgParams params = {PgInt(id)};
  const std::string what = "get forwarded action " + std::to_string(id);
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  if (got->rows.empty()) {
    co_return Status::NotFound("project ownership: no forwarded action " + std::to_string(id));
  }
  co_return ReadAction(got->rows[0]);
}

}  // namespace anthill::store
