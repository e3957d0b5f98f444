#include "store/pg_agent_fleet.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>

#include "base/event.h"
#include "base/strings.h"
#include "store/pg_agent_reports.h"
#include "store/pg_cells.h"
#include "store/pg_change_listener.h"
#include "store/pg_listen_loop.h"
#include "store/pg_schema.h"

namespace anthill::store {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kDesiredPrefix = "desired:";
constexpr std::string_view kReportedPrefix = "reported:";
constexpr std::string_view kRevokedPrefix = "revoked:";
// How long a token found good is taken as good without asking (a
// revocation heard over LISTEN forgets it at once).
constexpr auto kTokenKept = std::chrono::seconds(60);
// How often an agent's last_seen_at is written while nothing else changes.
constexpr auto kSeenEvery = std::chrono::seconds(10);

// The longest name an agent may have: it goes into notifications, which
// the server limits to 8000 bytes.
constexpr size_t kLongestName = 253;

bool IsAgentName(std::string_view name) {
  if (name.empty() || name.size() > kLongestName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

bool IsSha256Hex(std::string_view digest) {
  return digest.size() == 64 && std::all_of(digest.begin(), digest.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Compares two digests in time that depends on their length only, so that
// how long a refusal takes says nothing of how much of a guess was right.
// The length is no secret: a SHA-256 in hex is 64 characters.
bool SameDigest(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string NotifyAgents(std::string_view prefix, std::string_view column) {
  return PgNotifySql(kPgAgentsChannel, prefix, column);
}
// As PgRecordStore notifies a change of a deployment or its steps.
std::string NotifyDeployment(std::string_view column) {
  return PgNotifySql(kPgChangesChannel, "deployment", column);
}

// One statement of a transaction on `c`; its error prefixed with `what`.
asio::awaitable<Result<PgResult>> Exec(PgConnection& c, const std::string& what,
                                       const std::string& sql, const PgParams& params) {
  auto result = co_await c.Query(sql, params);
  if (!result.ok()) co_return result.status().Prefixed(what);
  co_return result;
}

// An error's words about many machines: the first three, then how many more.
std::string JoinFew(const std::vector<std::string>& names) { return JoinNames(names, 3); }

Status NoAgent(const std::string& name) {
  return Status::NotFound("no agent named '" + PgValidText(name) + "'");
}

// The columns of agent_desired, in the order ReadDesired reads them from
// `first` on.
const std::string kDesiredColumns =
    "d.machine, d.project, d.generation, d.desired, d.reported, d.reported_at_ms";

DesiredRow ReadDesired(const std::vector<PgCell>& r, size_t first) {
  DesiredRow row;
  row.machine = PgStr(r[first]);
  row.project = PgStr(r[first + 1]);
  row.generation = PgToInt(r[first + 2]);
  row.desired = PgStr(r[first + 3]);
  row.reported = PgStr(r[first + 4]);
  row.reported_at = PgMaybeTime(r[first + 5]);
  return row;
}

const std::string kMachineColumns =
    "deployment_id, machine, batch, status, from_version, to_version, from_release, to_release, "
    "started_at_ms, finished_at_ms, error";

DeploymentMachine ReadMachine(const std::vector<PgCell>& r) {
  DeploymentMachine m;
  m.deployment_id = PgToInt(r[0]);
  m.machine = PgStr(r[1]);
  m.batch = static_cast<int>(PgToInt(r[2]));
  // A word of a newer Anthill's: shown as a failure rather than as progress.
  m.status = ParseMachineRolloutStatus(PgStr(r[3])).value_or(MachineRolloutStatus::kFailed);
  m.from_version = PgStr(r[4]);
  m.to_version = PgStr(r[5]);
  m.from_release = PgStr(r[6]);
  m.to_release = PgStr(r[7]);
  m.started_at = PgMaybeTime(r[8]);
  m.finished_at = PgMaybeTime(r[9]);
  m.error = PgStr(r[10]);
  return m;
}

}  // namespace

// Everything the listening coroutine and the waits touch, shared, so that
// either can finish after the fleet is gone.
struct PgAgentFleet::State : PgListenState {
  enum class Kind { kDesired, kReported };
  // One wait in flight: woken by cancelling its timer, which otherwise
  // expires at the caller's max_wait.
  struct Waiter {
    Waiter(const asio::any_io_executor& e, Duration max_wait, Kind kind, std::string key)
        : timer(e, max_wait), kind(kind), key(std::move(key)) {}
    asio::steady_timer timer;
    Kind kind;
    std::string key;  // the machine or the project
    bool woken = false;
    bool parked = false;
  };
  // A waiter on the list for as long as it lives, the coroutine's
  // destruction with its io_context included.
  // Waiters are filed by kind and key: an orchestrator parks one per
  // agent's long poll (10,000 of them), and a notification wakes the few
  // of its key without looking at the rest.
  using Filed = std::unordered_multimap<std::string, Waiter*>;
  static std::string FileKey(Kind kind, std::string_view key) {
    return (kind == Kind::kDesired ? "d:" : "r:") + std::string(key);
  }
  struct Enlisted {
    Enlisted(State& s, Waiter& w) : s(s), at(s.waiters.emplace(FileKey(w.kind, w.key), &w)) {}
    ~Enlisted() { s.waiters.erase(at); }
    State& s;
    Filed::iterator at;
  };

  State(asio::any_io_executor e, std::string info) : PgListenState(std::move(e), std::move(info)) {}

  static void Wake(Waiter& w) {
    w.woken = true;
    w.timer.cancel();
  }
  void Wake(Kind kind, std::string_view key) {
    if (kind == Kind::kReported) ++reported_marks[std::string(key)];
    auto [from, to] = waiters.equal_range(FileKey(kind, key));
    for (auto it = from; it != to; ++it) Wake(*it->second);
  }
  void WakeAll() {
    ++every_mark;
    // LISTEN (re)took effect: what was notified before, revocations
    // included, was not heard.
    tokens.clear();
    ++forgets;
    for (auto& [key, w] : waiters) Wake(*w);
  }
  void ForgetAgent(std::string_view name) {
    ++forgets;
    const std::string n(name);
    tokens.erase(n);
    seen.erase(n);
  }
  int64_t ReportedMark(const std::string& project) const {
    auto it = reported_marks.find(project);
    return every_mark + (it == reported_marks.end() ? 0 : it->second);
  }

  // Until woken or the waiter's time is up; at once when it was woken
  // already (while it read the database).
  static asio::awaitable<void> Park(Waiter& w) {
    if (w.woken) co_return;
    w.parked = true;
    boost::system::error_code ended;  // expired or cancelled: both end the wait
    auto until_ended = asio::redirect_error(asio::use_awaitable, ended);
    co_await w.timer.async_wait(until_ended);
    w.parked = false;
  }

  Filed waiters;

  // Tokens found good, by agent: an agent's every poll and report is
  // checked, and at 10,000 agents a query each would be most of the
  // database's work. Kept while LISTEN is in effect (a revocation anywhere
  // notifies "revoked:<name>", which forgets it), at most kTokenKept.
  struct GoodToken {
    std::string sha256;
    std::chrono::steady_clock::time_point checked;
  };
  std::unordered_map<std::string, GoodToken> tokens;
  int64_t forgets = 0;  // tokens forgotten so far (one or all)
  // What Seen last wrote of each agent: the same labels again within
  // kSeenEvery are not written again (last_seen_at is that coarse; agents
  // are silent only after agent_timeout, minutes).
  struct SeenWritten {
    std::vector<std::string> labels;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, SeenWritten> seen;
  // Wake-ups about each project's reports, and of everything (LISTEN taking
  // effect): ReportedMark's parts. A few integers per project.
  std::map<std::string, int64_t> reported_marks;
  int64_t every_mark = 0;
};

using Fleet = PgAgentFleet;

// Items per batch: a transaction of reports, a statement of polls' reads or
// of "seen" writes.
constexpr size_t kReportsAtOnce = 500;
constexpr size_t kReadsAtOnce = 1000;
constexpr size_t kSeenAtOnce = 1000;

template <typename T>
using Awaitable = AgentFleet::Awaitable<T>;

Fleet::PgAgentFleet(asio::any_io_executor executor, std::string conninfo, Options options)
    : pool_(executor, conninfo, options.connections),
      options_(options),
      state_(std::make_shared<State>(std::move(executor), std::move(conninfo))),
      reports_(
          state_->executor, kReportsAtOnce, [this](auto& taken) { return WriteReports(taken); },
          [this](size_t queued) { return GatherReports(queued); }),
      reads_(state_->executor, kReadsAtOnce,
             [this](auto& taken) { return ReadDesiredStates(taken); }),
      seen_(state_->executor, kSeenAtOnce, [this](auto& taken) { return WriteSeen(taken); }) {}

Fleet::~PgAgentFleet() { Stop(); }

Awaitable<Result<std::unique_ptr<Fleet>>> Fleet::Open(asio::any_io_executor executor,
                                                      std::string conninfo, Options options) {
  std::unique_ptr<Fleet> fleet(new Fleet(std::move(executor), std::move(conninfo), options));
  auto lease = co_await fleet->pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("agent fleet");
  PgConnection& conn = **lease;
  Status migrated = co_await MigratePgSchema(conn);
  if (!migrated.ok()) co_return migrated.Prefixed("agent fleet");
  fleet->StartListening();
  co_return std::move(fleet);
}

void Fleet::StartListening() {
  State* s = state_.get();
  s->started = true;
  // Each time LISTEN takes effect, the first time included: what was
  // notified before was not heard, so every wait looks at the database.
  auto listened = [s] { s->WakeAll(); };
  auto heard = [s](std::string_view payload) {
    if (StartsWith(payload, kRevokedPrefix)) {
      s->ForgetAgent(payload.substr(kRevokedPrefix.size()));
    } else if (StartsWith(payload, kDesiredPrefix)) {
      s->Wake(State::Kind::kDesired, payload.substr(kDesiredPrefix.size()));
    } else if (StartsWith(payload, kReportedPrefix)) {
      s->Wake(State::Kind::kReported, payload.substr(kReportedPrefix.size()));
    }
  };
  asio::co_spawn(state_->executor, RunPgListenLoop(state_, kPgAgentsChannel, listened, heard),
                 asio::detached);
}

void Fleet::Stop() {
  state_->PgListenState::Stop();
  state_->WakeAll();
}

bool Fleet::listening() const { return state_->listening; }
int64_t Fleet::listens() const { return state_->listens; }
size_t Fleet::parked() const {
  return std::count_if(state_->waiters.begin(), state_->waiters.end(),
                       [](const auto& filed) { return filed.second->parked; });
}

Awaitable<Result<PgResult>> Fleet::Run(const std::string& what, const std::string& sql,
                                       const PgParams& params) {
  auto lease = co_await pool_.Acquire();
  if (!lease.ok()) co_return lease.status().Prefixed("agent fleet: " + what);
  PgConnection& conn = **lease;
  auto result = co_await conn.Query(sql, params);
  if (!result.ok()) co_return result.status().Prefixed("agent fleet: " + what);
  co_return result;
}

// --- Identity ----------------------------------------------------------------

Awaitable<Status> Fleet::AddAgent(std::string name, std::string token_sha256) {
  if (!IsAgentName(name)) {
    co_return Status::InvalidArgument("agent fleet: add agent: '" + PgValidText(name) +
                                      "' is not a name of 1 to 253 of [A-Za-z0-9._-]");
  }
  if (!IsSha256Hex(token_sha256)) {
    co_return Status::InvalidArgument("agent fleet: add agent " + name +
                                      ": a token's SHA-256 is 64 lowercase hex digits");
  }
  // A revoked agent is registered anew: a new token and created_at; its
  // generation and desired state stay, so its next poll finds them.
  static const std::string sql =
      "INSERT INTO agents AS a (name, token_sha256, created_at_ms) VALUES ($1, $2, " +
      kPgNowMillis +
      ") ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, created_at_ms = "
      "excluded.created_at_ms, revoked_at_ms = NULL WHERE a.revoked_at_ms IS NOT NULL "
      "RETURNING name";
  const PgParams params = {PgText(name), PgText(token_sha256)};
  const std::string what = "add agent " + name;
  auto added = co_await Run(what, sql, params);
  if (!added.ok()) co_return added.status();
  if (added->rows.empty()) {
    co_return Status::Conflict("agent fleet: agent " + name +
                               " is registered already; revoke it to give it a new token");
  }
  co_return Status::Ok();
}

Awaitable<Status> Fleet::RevokeAgent(std::string name) {
  // Revoked twice: the first time stays. Its polls held open (in every
  // orchestrator) are woken to find their token refused: locked out at once.
  static const std::string sql =
      "WITH r AS (UPDATE agents SET revoked_at_ms = coalesce(revoked_at_ms, " + kPgNowMillis +
      ") WHERE name = $1 RETURNING name) SELECT " + NotifyAgents("revoked", "r.name") + ", " +
      NotifyAgents("desired", "r.name") + " FROM r";
  const PgParams params = {PgText(name)};
  const std::string what = "revoke agent " + PgValidText(name);
  auto revoked = co_await Run(what, sql, params);
  if (!revoked.ok()) co_return revoked.status();
  if (revoked->rows.empty()) co_return NoAgent(name).Prefixed("agent fleet");
  state_->ForgetAgent(name);
  state_->Wake(State::Kind::kDesired, name);
  co_return Status::Ok();
}

Awaitable<Result<bool>> Fleet::CheckToken(std::string name, std::string token_sha256) {
  static const std::string sql =
      "SELECT token_sha256 FROM agents WHERE name = $1 AND revoked_at_ms IS NULL";
  const PgParams params = {PgText(name)};
  const auto now = std::chrono::steady_clock::now();
  if (auto it = state_->tokens.find(name); it != state_->tokens.end() && state_->listening) {
    if (now - it->second.checked < kTokenKept && SameDigest(it->second.sha256, token_sha256)) {
      co_return true;
    }
  }
  const std::string what = "check the token of " + PgValidText(name);
  const int64_t forgets = state_->forgets;
  auto found = co_await Run(what, sql, params);
  if (!found.ok()) co_return found.status();
  if (found->rows.empty()) co_return false;
  const std::string stored = PgStr(found->rows[0][0]);
  if (!SameDigest(stored, token_sha256)) co_return false;
  // Kept only while a revocation elsewhere would be heard (LISTEN in
  // effect), and when none may have been heard during the read, which may
  // have seen the row from before it.
  if (state_->listening && state_->forgets == forgets) state_->tokens[name] = {stored, now};
  co_return true;
}

Awaitable<Result<std::vector<AgentRow>>> Fleet::Agents() {
  static const std::string sql =
      "SELECT name, labels, created_at_ms, revoked_at_ms, last_seen_at_ms, generation FROM "
      "agents ORDER BY name COLLATE \"C\"";
  const PgParams none;
  const std::string what = "list agents";
  auto listed = co_await Run(what, sql, none);
  if (!listed.ok()) co_return listed.status();
  std::vector<AgentRow> out;
  for (const auto& r : listed->rows) {
    AgentRow& a = out.emplace_back();
    a.name = PgStr(r[0]);
    a.labels = PgParseTextArray(r[1]);
    a.created_at = FromUnixMillis(PgToInt(r[2]));
    a.revoked_at = PgMaybeTime(r[3]);
    a.last_seen_at = PgMaybeTime(r[4]);
    a.generation = PgToInt(r[5]);
  }
  co_return out;
}

// A poll's "seen" waiting for WriteSeen.
struct PgAgentFleet::PendingSeen {
  explicit PendingSeen(asio::any_io_executor e) : done(std::move(e)) {}
  std::string name;
  std::vector<std::string> labels;
  Status result = Status::Error("not written");
  Event done;
};

Awaitable<Status> Fleet::Seen(std::string name, std::vector<std::string> labels) {
  const auto now = std::chrono::steady_clock::now();
  if (auto it = state_->seen.find(name); it != state_->seen.end()) {
    if (now - it->second.at < kSeenEvery && it->second.labels == labels) co_return Status::Ok();
  }
  // Written with the other agents' (10,000 polls come back at once after
  // a change): one statement for the lot (WriteSeen).
  auto pending = std::make_shared<PendingSeen>(state_->executor);
  pending->name = PgValidText(name);
  pending->labels = labels;
  co_await seen_.Add(pending);
  if (pending->result.ok()) state_->seen[name] = {std::move(labels), now};
  co_return pending->result;
}

Awaitable<void> Fleet::WriteSeen(std::vector<std::shared_ptr<PendingSeen>>& taken) {
  // Locks in name order, as a batch of reports does: with SetDesired's, no
  // two transactions wait crosswise. Labels travel as array literals, one
  // per agent.
  static const std::string sql =
      "UPDATE agents a SET last_seen_at_ms = " + kPgNowMillis +
      ", labels = u.labels::text[] FROM unnest($1::text[], $2::text[]) AS u(name, labels) WHERE "
      "a.name = u.name AND a.name IN (SELECT name FROM agents WHERE name = ANY($1::text[]) ORDER "
      "BY name COLLATE \"C\" FOR UPDATE) RETURNING a.name";
  std::map<std::string, std::vector<std::string>> latest;  // name -> labels; the last wins
  for (const auto& p : taken) latest[p->name] = p->labels;
  std::vector<std::string> names;
  std::vector<std::string> labels;
  for (const auto& [name, of] : latest) {
    names.push_back(name);
    labels.push_back(*PgTextArray(of));
  }
  const PgParams params = {PgTextArray(names), PgTextArray(labels)};
  const std::string what = "agents seen: " + JoinFew(names);
  auto got = co_await Run(what, sql, params);
  std::set<std::string> written;
  if (got.ok()) {
    for (const auto& r : got->rows) written.insert(PgStr(r[0]));
  }
  for (auto& p : taken) {
    if (!got.ok()) {
      p->result = got.status();
    } else if (!written.contains(p->name)) {
      p->result = NoAgent(p->name).Prefixed("agent fleet");
    } else {
      p->result = Status::Ok();
    }
  }
}

// --- Desired state -------------------------------------------------------------

Awaitable<Status> Fleet::SetDesired(std::vector<DesiredChange> changes) {
  // By machine, in name order (the order rows are locked in), then project;
  // the last change of a (machine, project) wins. Stored text is valid
  // UTF-8, so the comparison with what is stored is of like with like.
  std::map<std::string, std::map<std::string, std::string>> wanted;
  for (const auto& c : changes) {
    if (c.machine.empty() || c.project.empty()) {
      co_return Status::InvalidArgument(
          "agent fleet: set desired: a change names no machine or no project");
    }
    wanted[PgValidText(c.machine)][PgValidText(c.project)] = PgValidText(c.desired);
  }
  if (wanted.empty()) co_return Status::Ok();

  // Five statements whatever the number of machines (a batch of a
  // rollout over 10,000 machines changes 1,000 at once).
  static const std::string lock =
      "SELECT name FROM agents WHERE name = ANY($1::text[]) ORDER BY name COLLATE \"C\" FOR "
      "UPDATE";
  static const std::string now_held =
      "SELECT machine, project, desired FROM agent_desired WHERE machine = ANY($1::text[])";
  static const std::string bump =
      "WITH bumped AS (UPDATE agents SET generation = generation + 1 WHERE name = "
      "ANY($1::text[]) RETURNING name, generation) SELECT name, generation, " +
      NotifyAgents("desired", "name") + " FROM bumped";
  static const std::string write =
      "INSERT INTO agent_desired (machine, project, generation, desired) SELECT * FROM "
      "unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) ON CONFLICT (machine, project) "
      "DO UPDATE SET generation = excluded.generation, desired = excluded.desired";
  static const std::string empty_gone =
      "DELETE FROM agent_desired d USING unnest($1::text[], $2::text[]) AS g(machine, project) "
      "WHERE d.machine = g.machine AND d.project = g.project AND d.desired = '' AND d.reported "
      "= ''";

  std::vector<std::string> machines;
  for (const auto& [machine, projects] : wanted) machines.push_back(machine);
  std::vector<std::string> bumped;
  PgWork work = [&](PgConnection& c) -> asio::awaitable<Status> {
    bumped.clear();
    const std::string what = "machines " + JoinFew(machines);
    const PgParams of_machines = {PgTextArray(machines)};
    auto locked = co_await Exec(c, what, lock, of_machines);
    if (!locked.ok()) co_return locked.status();
    std::set<std::string> known;
    for (const auto& r : locked->rows) known.insert(PgStr(r[0]));
    for (const std::string& m : machines) {
      if (!known.count(m)) co_return NoAgent(m);
    }
    auto held = co_await Exec(c, what, now_held, of_machines);
    if (!held.ok()) co_return held.status();
    std::map<std::pair<std::string, std::string>, std::string> before;
    for (const auto& r : held->rows) before[{PgStr(r[0]), PgStr(r[1])}] = PgStr(r[2]);
    // What changes: a machine none of whose rows changes keeps its generation.
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> changed;
    for (const auto& [machine, projects] : wanted) {
      for (const auto& [project, desired] : projects) {
        auto it = before.find({machine, project});
        if ((it == before.end() ? std::string() : it->second) == desired) continue;
        changed[machine].emplace_back(project, desired);
      }
    }
    if (changed.empty()) co_return Status::Ok();
    std::vector<std::string> raise;
    for (const auto& [machine, rows] : changed) raise.push_back(machine);
    const PgParams of_raised = {PgTextArray(raise)};
    auto raised = co_await Exec(c, what, bump, of_raised);
    if (!raised.ok()) co_return raised.status();
    std::map<std::string, int64_t> generation;
    for (const auto& r : raised->rows) generation[PgStr(r[0])] = PgToInt(r[1]);
    std::vector<std::string> row_machines, row_projects, row_desired, gone_machines, gone_projects;
    std::vector<int64_t> row_generations;
    for (const auto& [machine, rows] : changed) {
      for (const auto& [project, desired] : rows) {
        row_machines.push_back(machine);
        row_projects.push_back(project);
        row_generations.push_back(generation[machine]);
        row_desired.push_back(desired);
        if (desired.empty()) {
          gone_machines.push_back(machine);
          gone_projects.push_back(project);
        }
      }
    }
    const PgParams rows = {PgTextArray(row_machines), PgTextArray(row_projects),
                           PgIntArray(row_generations), PgTextArray(row_desired)};
    auto written = co_await Exec(c, what, write, rows);
    if (!written.ok()) co_return written.status();
    if (!gone_machines.empty()) {
      const PgParams removed = {PgTextArray(gone_machines), PgTextArray(gone_projects)};
      auto gone = co_await Exec(c, what, empty_gone, removed);
      if (!gone.ok()) co_return gone.status();
    }
    bumped = std::move(raise);
    co_return Status::Ok();
  };
  Status done = co_await pool_.InTransaction(work);
  if (!done.ok()) co_return done.Prefixed("agent fleet: set desired");
  // Committed: this process's waits need not wait for the notification.
  for (const auto& machine : bumped) state_->Wake(State::Kind::kDesired, machine);
  co_return Status::Ok();
}

// A read of one machine's desired state waiting for ReadDesiredStates.
struct PgAgentFleet::PendingRead {
  explicit PendingRead(asio::any_io_executor e) : done(std::move(e)) {}
  std::string machine;
  bool with_rows = true;  // false: its generation alone
  Result<std::pair<int64_t, std::vector<DesiredRow>>> result = Status::Error("not read");
  Event done;
};

Awaitable<Result<std::pair<int64_t, std::vector<DesiredRow>>>> Fleet::DesiredOf(
    std::string machine) {
  co_return co_await ReadQueued(std::move(machine), true);
}

Awaitable<Result<std::pair<int64_t, std::vector<DesiredRow>>>> Fleet::ReadQueued(
    std::string machine, bool with_rows) {
  // Polls woken together (a batch of 1,000 switched at once) are read
  // together: one statement for the lot (ReadDesiredStates).
  auto pending = std::make_shared<PendingRead>(state_->executor);
  pending->machine = PgValidText(machine);
  pending->with_rows = with_rows;
  co_await reads_.Add(pending);
  co_return std::move(pending->result);
}

Awaitable<void> Fleet::ReadDesiredStates(std::vector<std::shared_ptr<PendingRead>>& taken) {
  // One statement, so one snapshot: a generation is never newer than its
  // rows (a caller that saw it would wait past a change it never read).
  // A machine not registered is generation 0 and no rows. A machine whose
  // generation alone is asked for (a poll about to park) has its rows left
  // out. Each machine's rows are looked up by its key: as plain joins the
  // planner hashed all of agent_desired (10,000 rows of JSON) for a read of
  // 45 machines (8-90 ms a read in a rollout over 10,000 machines; `OFFSET
  // 0` keeps the lateral from being flattened into such a join).
  static const std::string sql =
      "SELECT m.name, coalesce((SELECT a.generation FROM agents a WHERE a.name = m.name), 0), " +
      kDesiredColumns +
      " FROM unnest($1::text[], $2::bigint[]) AS m(name, with_rows) LEFT JOIN LATERAL (SELECT * "
      "FROM agent_desired d WHERE m.with_rows = 1 AND d.machine = m.name OFFSET 0) d ON true "
      "ORDER BY m.name COLLATE \"C\", d.project COLLATE \"C\"";
  std::map<std::string, bool> wanted;  // machine -> with rows
  for (const auto& p : taken) wanted[p->machine] |= p->with_rows;
  std::vector<std::string> names;
  std::vector<int64_t> with_rows;
  for (const auto& [name, rows] : wanted) {
    names.push_back(name);
    with_rows.push_back(rows ? 1 : 0);
  }
  const PgParams params = {PgTextArray(names), PgIntArray(with_rows)};
  const std::string what = "desired state of " + JoinFew(names);
  auto got = co_await Run(what, sql, params);
  std::map<std::string, std::pair<int64_t, std::vector<DesiredRow>>> by_machine;
  if (got.ok()) {
    for (const auto& r : got->rows) {
      auto& [generation, rows] = by_machine[PgStr(r[0])];
      generation = PgToInt(r[1]);
      if (r[2]) rows.push_back(ReadDesired(r, 2));  // else the generation alone: no rows
    }
  }
  for (auto& p : taken) {
    if (!got.ok()) {
      p->result = got.status();
    } else {
      p->result = by_machine[p->machine];
    }
  }
}

Awaitable<Result<std::vector<DesiredRow>>> Fleet::DesiredOfProject(std::string project) {
  static const std::string sql = "SELECT " + kDesiredColumns +
                                 " FROM agent_desired d WHERE d.project = $1 ORDER BY d.machine "
                                 "COLLATE \"C\"";
  const PgParams params = {PgText(project)};
  const std::string what = "desired state of project " + PgValidText(project);
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  std::vector<DesiredRow> out;
  for (const auto& r : got->rows) out.push_back(ReadDesired(r, 0));
  co_return out;
}

Awaitable<Result<AgentFleet::ReportsRead>> Fleet::ReportsOf(std::string project,
                                                            std::vector<std::string> machines,
                                                            int64_t since) {
  // A report's row carries the id of the transaction that last changed its
  // text (reported_xid). Every transaction below the oldest one still open
  // when this statement's snapshot was taken (its xmin) has ended, and what
  // it wrote is in this read; so the next read need only look from that
  // xmin on. A row of a transaction open now comes in the next read, even
  // when it commits with an id below a newer one's.
  // Three statements, each with a plan that reads only what it returns:
  // the machines' rows by the (project, machine) index (not `machine =
  // ANY(...)` tested against each row: 0.7 s for 10,000 machines), every row
  // of the project, or the changed ones by the (project, reported_xid) index.
  // In no order: a sort of 10,000 reports spills to disk.
  static const std::string kSnapshot =
      "SELECT s.xmin, d.machine, d.project, d.generation, d.reported FROM (SELECT "
      "pg_snapshot_xmin(pg_current_snapshot())::text AS xmin) s LEFT JOIN ";
  static const std::string of_machines =
      kSnapshot +
      "(unnest($2::text[]) AS m(name) JOIN agent_desired d ON d.project = $1 AND d.machine = "
      "m.name) ON true";
  static const std::string of_project = kSnapshot + "agent_desired d ON d.project = $1";
  static const std::string changed =
      kSnapshot + "agent_desired d ON d.project = $1 AND d.reported_xid >= $2::xid8";
  const std::string& sql = since > 0 ? changed : machines.empty() ? of_project : of_machines;
  PgParams params = {PgText(project)};
  if (since > 0) {
    params.push_back(PgText(std::to_string(since)));
  } else if (!machines.empty()) {
    params.push_back(PgTextArray(machines));
  }
  const std::string what = "reports of project " + PgValidText(project) +
                           (machines.empty() ? std::string() : " on " + JoinFew(machines));
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  ReportsRead out;
  for (const auto& r : got->rows) {
    out.next = PgToInt(r[0]);
    if (!r[1]) continue;  // no row changed: the LEFT JOIN's one row of NULLs
    DesiredRow row;
    row.machine = PgStr(r[1]);
    row.project = PgStr(r[2]);
    row.generation = PgToInt(r[3]);
    row.reported = PgStr(r[4]);
    out.rows.push_back(std::move(row));
  }
  co_return out;
}

Awaitable<Result<std::vector<DesiredRow>>> Fleet::AllDesired() {
  static const std::string sql = "SELECT " + kDesiredColumns +
                                 " FROM agent_desired d ORDER BY d.machine COLLATE \"C\", "
                                 "d.project COLLATE \"C\"";
  const PgParams none;
  const std::string what = "desired state of every machine";
  auto got = co_await Run(what, sql, none);
  if (!got.ok()) co_return got.status();
  std::vector<DesiredRow> out;
  for (const auto& r : got->rows) out.push_back(ReadDesired(r, 0));
  co_return out;
}

Awaitable<bool> Fleet::WaitDesired(std::string machine, int64_t after, Duration max_wait) {
  const std::shared_ptr<State> s = state_;
  if (s->stopping) co_return false;
  State::Waiter w(s->executor, max_wait, State::Kind::kDesired, PgValidText(machine));
  State::Enlisted enlisted(*s, w);
  // On the list first, the read second: a change committed after the read
  // wakes this wait (its notification, or this process's own write), and
  // one committed before it is read. A read that fails waits all the same:
  // returning at once would make a caller that reads again spin.
  // Read with the other polls' reads (10,000 polls park again at once
  // after a change).
  auto read = co_await ReadQueued(std::move(machine), false);
  if (read.ok() && read->first > after) co_return true;
  co_await State::Park(w);
  co_return !s->stopping;
}

// --- Reports -------------------------------------------------------------------

// A report waits in the queue until the writer takes it in a batch.
struct PgAgentFleet::Pending {
  explicit Pending(asio::any_io_executor e) : done(std::move(e)) {}
  QueuedReport queued;
  Event done;
};

Awaitable<Status> Fleet::ApplyReport(std::string machine, AgentReport report) {
  if (report.id.empty()) {
    co_return Status::InvalidArgument("agent fleet: report of " + PgValidText(machine) + ": no id");
  }
  auto pending = std::make_shared<Pending>(state_->executor);
  pending->queued.machine = PgValidText(machine);
  pending->queued.report = std::move(report);
  co_await reports_.Add(pending);
  co_return pending->queued.result;
}

// Under a steady stream (a fleet's periodic reports: 1,000 a second from
// 10,000 agents) each batch would hold the few reports that came while the
// last was written: 5,366 transactions of 9 reports in one rollout, twice
// PostgreSQL's CPU of fewer, fuller ones. So after a batch the next gathers
// for kGather first; a report that finds the writer idle goes at once.
Awaitable<void> Fleet::GatherReports(size_t queued) {
  constexpr Duration kGather{10};
  if (queued < kReportsAtOnce && !state_->stopping) co_await SleepFor(kGather);
}

Awaitable<void> Fleet::WriteReports(std::vector<std::shared_ptr<Pending>>& taken) {
  constexpr int64_t kPruneEvery = 64;  // batches
  ApplyReportsOptions options;
  options.keep_reports = options_.keep_reports;
  options.prune = ++report_batches_ % kPruneEvery == 1;
  auto apply = [&](const std::vector<std::shared_ptr<Pending>>& part) -> Awaitable<Status> {
    std::vector<QueuedReport*> batch;
    for (auto& p : part) batch.push_back(&p->queued);
    PgWork work = [&](PgConnection& c) { return ApplyReportsOn(c, batch, options); };
    Status done = co_await pool_.InTransaction(work);
    if (!done.ok()) {
      for (QueuedReport* q : batch) q->applied = false;
    }
    co_return done;
  };
  Status done = co_await apply(taken);
  if (!done.ok() && taken.size() > 1 && done.code() != StatusCode::kUnavailable) {
    // One report the database refuses must not hold back the others:
    // each alone, so only it fails. (A database that cannot be reached,
    // or a deadlock, fails them all at once: the agents send them again.)
    for (auto& p : taken) {
      const std::vector<std::shared_ptr<Pending>> one = {p};
      Status alone = co_await apply(one);
      if (!alone.ok()) {
        p->queued.result = alone.Prefixed(
            "agent fleet: report " + PgValidText(p->queued.report.id) + " of " + p->queued.machine);
      }
    }
  } else if (!done.ok()) {
    for (auto& p : taken) {
      QueuedReport& q = p->queued;
      q.result =
          done.Prefixed("agent fleet: report " + PgValidText(q.report.id) + " of " + q.machine);
    }
  }
  // Committed: this process's waits need not wait for the notification.
  for (auto& p : taken) {
    if (!p->queued.applied) continue;
    for (const auto& project : p->queued.projects) state_->Wake(State::Kind::kReported, project);
  }
}

int64_t Fleet::ReportedMark(const std::string& project) {
  return state_->ReportedMark(PgValidText(project));
}

Awaitable<void> Fleet::WaitReported(std::string project, int64_t mark, Duration max_wait) {
  const std::shared_ptr<State> s = state_;
  if (s->stopping) co_return;
  project = PgValidText(project);
  if (s->ReportedMark(project) != mark) co_return;  // heard of one since the mark
  State::Waiter w(s->executor, max_wait, State::Kind::kReported, project);
  State::Enlisted enlisted(*s, w);
  co_await State::Park(w);
}

// --- A deployment's machines -----------------------------------------------------

Awaitable<Status> Fleet::RecordMachines(std::vector<DeploymentMachine> rows) {
  // Notified on the record's channel: the deployment's page shows its
  // machines.
  static const std::string sql =
      "WITH made AS (INSERT INTO deployment_machines (" + kMachineColumns +
      ") SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], "
      "$6::text[], $7::text[], $8::text[], $9::bigint[], $10::bigint[], $11::text[]) ON "
      "CONFLICT (deployment_id, machine) DO UPDATE SET batch = excluded.batch, status = "
      "excluded.status, from_version = excluded.from_version, to_version = excluded.to_version, "
      "from_release = excluded.from_release, to_release = excluded.to_release, started_at_ms = "
      "excluded.started_at_ms, finished_at_ms = excluded.finished_at_ms, error = excluded.error "
      "RETURNING deployment_id) SELECT " +
      NotifyDeployment("deployment_id") + " FROM (SELECT DISTINCT deployment_id FROM made) m";
  // One row per key (an upsert may not touch a row twice): the last.
  std::map<std::pair<int64_t, std::string>, const DeploymentMachine*> last;
  for (const DeploymentMachine& row : rows)
    last[{row.deployment_id, PgValidText(row.machine)}] = &row;
  if (last.empty()) co_return Status::Ok();
  std::vector<std::optional<int64_t>> ids, batches, started, finished;
  std::vector<std::string> machines, statuses, from_versions, to_versions, from_releases,
      to_releases, errors;
  auto millis = [](const std::optional<TimePoint>& t) {
    return t ? std::optional<int64_t>(ToUnixMillis(*t)) : std::nullopt;
  };
  for (const auto& [key, row] : last) {
    ids.push_back(row->deployment_id);
    machines.push_back(key.second);
    batches.push_back(row->batch);
    statuses.emplace_back(ToString(row->status));
    from_versions.push_back(PgValidText(row->from_version));
    to_versions.push_back(PgValidText(row->to_version));
    from_releases.push_back(PgValidText(row->from_release));
    to_releases.push_back(PgValidText(row->to_release));
    started.push_back(millis(row->started_at));
    finished.push_back(millis(row->finished_at));
    errors.push_back(PgValidText(row->error));
  }
  const PgParams params = {
      PgMaybeIntArray(ids),       PgTextArray(machines),      PgMaybeIntArray(batches),
      PgTextArray(statuses),      PgTextArray(from_versions), PgTextArray(to_versions),
      PgTextArray(from_releases), PgTextArray(to_releases),   PgMaybeIntArray(started),
      PgMaybeIntArray(finished),  PgTextArray(errors)};
  const std::string what = "record machines " + JoinFew(machines) + " of deployment " +
                           std::to_string(rows.front().deployment_id);
  auto made = co_await Run(what, sql, params);
  co_return made.status();
}

Awaitable<Result<std::vector<DeploymentMachine>>> Fleet::MachinesOf(int64_t deployment_id) {
  static const std::string sql = "SELECT " + kMachineColumns +
                                 " FROM deployment_machines WHERE deployment_id = $1 ORDER BY "
                                 "batch, machine COLLATE \"C\"";
  const PgParams params = {PgInt(deployment_id)};
  const std::string what = "machines of deployment " + std::to_string(deployment_id);
  auto got = co_await Run(what, sql, params);
  if (!got.ok()) co_return got.status();
  std::vector<DeploymentMachine> out;
  for (const auto& r : got->rows) out.push_back(ReadMachine(r));
  co_return out;
}

}  // namespace anthill::store
