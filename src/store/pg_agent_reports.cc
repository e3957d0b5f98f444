#include "store/pg_agent_reports.h"

#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <utility>

#include "store/pg_agent_fleet.h"
#include "store/pg_cells.h"
#include "store/pg_change_listener.h"

namespace anthill::store {

namespace asio = boost::asio;

namespace {

// (`what` a literal and `params` a named value: GCC 12 mishandles
// temporaries made inside a co_await expression.)
asio::awaitable<Result<PgResult>> Exec(PgConnection& c, const char* what, const std::string& sql,
                                       const PgParams& params) {
  auto result = co_await c.Query(sql, params);
  if (!result.ok()) co_return result.status().Prefixed(what);
  co_return result;
}

// One row of `steps` to write: a key's last word in the batch.
struct StepRow {
  std::string machine;
  AgentStep step;
};

// The batch's steps of applied reports, by key then machine (in the order
// first heard), each as its last report in the batch leaves it.
std::map<std::string, std::vector<StepRow>> MergeSteps(
    const std::vector<QueuedReport*>& batch, const std::map<int64_t, std::string>& project_of) {
  std::map<std::string, std::vector<StepRow>> by_key;
  for (QueuedReport* q : batch) {
    if (!q->applied) continue;
    for (const AgentStep& s : q->report.steps) {
      auto it = project_of.find(s.deployment_id);
      if (it == project_of.end() || s.key.empty()) {
        // The rest of the report still counts: its states and other
        // steps are what the rollout waits on.
        spdlog::warn("agent fleet: report {} of {}: step '{}' ({}) dropped: {}",
                     PgValidText(q->report.id), q->machine, PgValidText(s.key), ToString(s.name),
                     s.key.empty() ? std::string("it has no key")
                                   : "no deployment " + std::to_string(s.deployment_id));
        continue;
      }
      q->projects.insert(it->second);
      std::vector<StepRow>& rows = by_key[PgValidText(s.key)];
      auto row = std::find_if(rows.begin(), rows.end(),
                              [&](const StepRow& r) { return r.machine == q->machine; });
      if (row == rows.end()) {
        rows.push_back({q->machine, s});
      } else if (s.status != StepStatus::kRunning) {
        // An end: its status, time and error (a start never undoes one).
        row->step.status = s.status;
        row->step.finished_at = s.finished_at;
        row->step.error = s.error;
      }
    }
  }
  return by_key;
}

}  // namespace

asio::awaitable<Status> ApplyReportsOn(PgConnection& c, const std::vector<QueuedReport*>& batch,
                                       ApplyReportsOptions options) {
  // Locks in name order: with SetDesired's, no two transactions wait crosswise.
  static const std::string seen =
      "UPDATE agents SET last_seen_at_ms = " + kPgNowMillis +
      " WHERE name IN (SELECT name FROM agents WHERE name = ANY($1::text[]) ORDER BY name "
      "COLLATE \"C\" FOR UPDATE) RETURNING name";
  static const std::string once =
      "INSERT INTO agent_reports (machine, id, applied_at_ms) SELECT r.machine, r.id, " +
      kPgNowMillis +
      " FROM unnest($1::text[], $2::text[]) AS r(machine, id) ON CONFLICT DO NOTHING "
      "RETURNING machine, id";
  static const std::string deployments =
      "SELECT id, project FROM deployments WHERE id = ANY($1::bigint[])";
  // A later report of a key updates the row only when it is an end, so a
  // start that arrives after its end changes nothing; and only when the
  // row is this machine's.
  static const std::string step =
      "WITH made AS (INSERT INTO steps AS s (deployment_id, name, status, started_at, "
      "finished_at, error, machine, agent_key) SELECT * FROM unnest($1::bigint[], $2::text[], "
      "$3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::text[]) "
      "ON CONFLICT (agent_key) WHERE agent_key IS NOT NULL DO UPDATE SET status = "
      "excluded.status, finished_at = excluded.finished_at, error = excluded.error "
      "WHERE excluded.status <> $9 AND s.machine = excluded.machine RETURNING deployment_id) "
      "SELECT " +
      PgNotifySql(kPgChangesChannel, "deployment", "deployment_id") +
      " FROM (SELECT DISTINCT deployment_id FROM made) m";
  static const std::string states =
      "INSERT INTO agent_desired (machine, project, reported, reported_at_ms, reported_xid) "
      "SELECT r.machine, r.project, r.reported, " +
      kPgNowMillis +
      ", pg_current_xact_id() FROM unnest($1::text[], $2::text[], $3::text[]) AS r(machine, "
      "project, reported) ON CONFLICT (machine, project) DO UPDATE SET reported = "
      "excluded.reported, reported_at_ms = excluded.reported_at_ms, reported_xid = CASE WHEN "
      "agent_desired.reported = excluded.reported THEN agent_desired.reported_xid ELSE "
      "excluded.reported_xid END";
  static const std::string empty_gone =
      "DELETE FROM agent_desired d USING unnest($1::text[], $2::text[]) AS g(machine, project) "
      "WHERE d.machine = g.machine AND d.project = g.project AND d.desired = '' AND d.reported "
      "= ''";
  static const std::string notify =
      "SELECT " + PgNotifySql(kPgAgentsChannel, "reported", "p") + " FROM unnest($1::text[]) AS p";
  static const std::string prune =
      "DELETE FROM agent_reports WHERE machine = ANY($1::text[]) AND applied_at_ms < " +
      kPgNowMillis + " - $2::bigint";

  for (QueuedReport* q : batch) {
    q->result = Status::Ok();
    q->applied = false;
    q->projects.clear();
  }
  std::set<std::string> machine_set;
  for (QueuedReport* q : batch) machine_set.insert(q->machine);
  const std::vector<std::string> machines(machine_set.begin(), machine_set.end());

  const PgParams of_machines = {PgTextArray(machines)};
  auto touched = co_await Exec(c, "last seen", seen, of_machines);
  if (!touched.ok()) co_return touched.status();
  std::set<std::string> known;
  for (const auto& r : touched->rows) known.insert(PgStr(r[0]));

  // Each id once: the first report of a (machine, id) in the batch is the
  // one that may be new.
  std::vector<std::string> id_machines, ids;
  std::set<std::pair<std::string, std::string>> asked;
  for (QueuedReport* q : batch) {
    if (!known.count(q->machine)) {
      q->result = Status::NotFound("agent fleet: report " + PgValidText(q->report.id) + " of " +
                                   q->machine + ": no agent named '" + q->machine + "'");
      continue;
    }
    if (asked.insert({q->machine, PgValidText(q->report.id)}).second) {
      id_machines.push_back(q->machine);
      ids.push_back(PgValidText(q->report.id));
    }
  }
  if (ids.empty()) co_return Status::Ok();
  const PgParams keys_asked = {PgTextArray(id_machines), PgTextArray(ids)};
  auto first = co_await Exec(c, "report ids", once, keys_asked);
  if (!first.ok()) co_return first.status();
  std::set<std::pair<std::string, std::string>> fresh;
  for (const auto& r : first->rows) fresh.insert({PgStr(r[0]), PgStr(r[1])});
  for (QueuedReport* q : batch) {
    if (q->result.ok() && fresh.erase({q->machine, PgValidText(q->report.id)})) q->applied = true;
  }

  // Steps.
  std::vector<int64_t> deployment_ids;
  for (QueuedReport* q : batch) {
    if (!q->applied) continue;
    for (const AgentStep& s : q->report.steps) deployment_ids.push_back(s.deployment_id);
  }
  std::map<int64_t, std::string> project_of;
  if (!deployment_ids.empty()) {
    const PgParams of_ids = {PgIntArray(deployment_ids)};
    auto found = co_await Exec(c, "deployments of the steps", deployments, of_ids);
    if (!found.ok()) co_return found.status();
    for (const auto& r : found->rows) project_of[PgToInt(r[0])] = PgStr(r[1]);
  }
  const std::map<std::string, std::vector<StepRow>> by_key = MergeSteps(batch, project_of);
  // Round n writes each key's n-th machine: one row per key per statement
  // (an upsert may not touch a row twice). Almost always one round.
  for (size_t round = 0;; ++round) {
    std::vector<int64_t> deployment, started;
    std::vector<std::optional<int64_t>> finished;
    std::vector<std::string> names, statuses, errors, row_machines, keys;
    for (const auto& [key, rows] : by_key) {
      if (round >= rows.size()) continue;
      const StepRow& r = rows[round];
      deployment.push_back(r.step.deployment_id);
      names.emplace_back(ToString(r.step.name));
      statuses.emplace_back(ToString(r.step.status));
      started.push_back(ToUnixMillis(r.step.started_at));
      finished.push_back(r.step.status == StepStatus::kRunning || !r.step.finished_at
                             ? std::nullopt
                             : std::optional<int64_t>(ToUnixMillis(*r.step.finished_at)));
      errors.push_back(PgValidText(r.step.error));
      row_machines.push_back(r.machine);
      keys.push_back(key);
    }
    if (keys.empty()) break;
    const PgParams rows = {PgIntArray(deployment),
                           PgTextArray(names),
                           PgTextArray(statuses),
                           PgIntArray(started),
                           PgMaybeIntArray(finished),
                           PgTextArray(errors),
                           PgTextArray(row_machines),
                           PgTextArray(keys),
                           PgText(ToString(StepStatus::kRunning))};
    auto made = co_await Exec(c, "steps", step, rows);
    if (!made.ok()) co_return made.status();
  }

  // States: the last of each (machine, project) in the batch.
  std::map<std::pair<std::string, std::string>, std::string> reported;
  for (QueuedReport* q : batch) {
    if (!q->applied) continue;
    for (const auto& [project, json] : q->report.states) {
      if (project.empty()) continue;
      const std::string name = PgValidText(project);
      reported[{q->machine, name}] = PgValidText(json);
      q->projects.insert(name);
    }
  }
  if (!reported.empty()) {
    std::vector<std::string> state_machines, projects, texts, gone_machines, gone_projects;
    for (const auto& [at, json] : reported) {
      state_machines.push_back(at.first);
      projects.push_back(at.second);
      texts.push_back(json);
      if (json.empty()) {
        gone_machines.push_back(at.first);
        gone_projects.push_back(at.second);
      }
    }
    const PgParams rows = {PgTextArray(state_machines), PgTextArray(projects), PgTextArray(texts)};
    auto written = co_await Exec(c, "reported states", states, rows);
    if (!written.ok()) co_return written.status();
    if (!gone_machines.empty()) {
      const PgParams removed = {PgTextArray(gone_machines), PgTextArray(gone_projects)};
      auto gone = co_await Exec(c, "reported states", empty_gone, removed);
      if (!gone.ok()) co_return gone.status();
    }
  }

  std::set<std::string> about;
  for (QueuedReport* q : batch) about.insert(q->projects.begin(), q->projects.end());
  if (!about.empty()) {
    const std::vector<std::string> names(about.begin(), about.end());
    const PgParams of_projects = {PgTextArray(names)};
    auto notified = co_await Exec(c, "notify", notify, of_projects);
    if (!notified.ok()) co_return notified.status();
  }
  if (options.prune) {
    const PgParams old = {PgTextArray(machines), PgInt(options.keep_reports.count())};
    auto pruned = co_await Exec(c, "prune old report ids", prune, old);
    if (!pruned.ok()) co_return pruned.status();
  }
  co_return Status::Ok();
}

}  // namespace anthill::store
