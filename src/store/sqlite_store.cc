// The SQLite backend of Store. One file in data_dir, WAL mode.
#include <algorithm>
#include <map>

#include "store/sqlite.h"
#include "store/store.h"
#include "store/write_behind.h"

namespace anthill::store {

namespace {

// Each entry moves the schema one version up; applied in order, once, inside
// a transaction, and recorded in PRAGMA user_version.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE deployments (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  project      TEXT NOT NULL,
  machine      TEXT NOT NULL,
  from_version TEXT NOT NULL DEFAULT '',
  to_version   TEXT NOT NULL DEFAULT '',
  from_commit  TEXT NOT NULL DEFAULT '',
  to_commit    TEXT NOT NULL DEFAULT '',
  ref          TEXT NOT NULL DEFAULT '',
  trigger      TEXT NOT NULL,
  actor        TEXT NOT NULL DEFAULT '',
  status       TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  finished_at  INTEGER,
  error        TEXT NOT NULL DEFAULT '',
  release      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deployments_project ON deployments(project, id);
CREATE INDEX deployments_machine ON deployments(machine, id);
CREATE INDEX deployments_status ON deployments(status, id);
CREATE TABLE steps (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  deployment_id INTEGER NOT NULL REFERENCES deployments(id),
  name          TEXT NOT NULL,
  status        TEXT NOT NULL,
  started_at    INTEGER NOT NULL,
  finished_at   INTEGER,
  error         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX steps_deployment ON steps(deployment_id, id);
CREATE TABLE processes (
  project       TEXT PRIMARY KEY,
  pid           INTEGER NOT NULL,
  pgid          INTEGER NOT NULL,
  start_ticks   INTEGER NOT NULL,
  release       TEXT NOT NULL,
  version       TEXT NOT NULL,
  commit_sha    TEXT NOT NULL,
  deployment_id INTEGER NOT NULL,
  started_at    INTEGER NOT NULL
);
)sql",
    R"sql(
CREATE TABLE hook_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at INTEGER NOT NULL,
  source      TEXT NOT NULL,
  delivery_id TEXT NOT NULL DEFAULT '',
  event       TEXT NOT NULL DEFAULT '',
  repository  TEXT NOT NULL DEFAULT '',
  ref         TEXT NOT NULL DEFAULT '',
  commit_sha  TEXT NOT NULL DEFAULT '',
  pusher      TEXT NOT NULL DEFAULT '',
  verdict     TEXT NOT NULL DEFAULT '',
  body        BLOB NOT NULL
);
CREATE UNIQUE INDEX hook_events_delivery ON hook_events(source, delivery_id)
  WHERE delivery_id != '';
)sql",
    R"sql(
CREATE TABLE program_events (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL,
  at      INTEGER NOT NULL,
  kind    TEXT NOT NULL,
  version TEXT NOT NULL DEFAULT '',
  pid     INTEGER NOT NULL DEFAULT 0,
  detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX program_events_project ON program_events(project, id);
CREATE TABLE held_projects (
  project TEXT PRIMARY KEY
);
)sql",
    R"sql(
CREATE TABLE candidates (
  project       TEXT PRIMARY KEY,
  pid           INTEGER NOT NULL,
  pgid          INTEGER NOT NULL,
  start_ticks   INTEGER NOT NULL,
  release       TEXT NOT NULL,
  version       TEXT NOT NULL,
  commit_sha    TEXT NOT NULL,
  deployment_id INTEGER NOT NULL,
  started_at    INTEGER NOT NULL
);
CREATE TABLE pins (
  project    TEXT NOT NULL,
  commit_sha TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  at         INTEGER NOT NULL,
  PRIMARY KEY (project, commit_sha)
);
)sql",
};

constexpr const char* kDeploymentColumns =
    "id, project, machine, from_version, to_version, from_commit, to_commit, ref, trigger, actor, "
    "status, started_at, finished_at, error, release";

Deployment ReadDeployment(const Stmt& s) {
  Deployment d;
  d.id = s.Int(0);
  d.project = s.Text(1);
  d.machine = s.Text(2);
  d.from_version = s.Text(3);
  d.to_version = s.Text(4);
  d.from_commit = s.Text(5);
  d.to_commit = s.Text(6);
  d.ref = s.Text(7);
  d.trigger = ParseTrigger(s.Text(8)).value_or(Trigger::kPoll);
  d.actor = s.Text(9);
  d.status = ParseDeploymentStatus(s.Text(10)).value_or(DeploymentStatus::kInterrupted);
  d.started_at = FromUnixMillis(s.Int(11));
  if (auto f = s.MaybeInt(12)) d.finished_at = FromUnixMillis(*f);
  d.error = s.Text(13);
  d.release = s.Text(14);
  return d;
}

std::optional<int64_t> Millis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToUnixMillis(*t);
}

class SqliteStore : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Status Migrate() {
    // WAL: readers never block the writer. synchronous=NORMAL in WAL mode
    // keeps every committed transaction across a crash of Anthill (only a
    // power cut may lose the last ones), at a fraction of FULL's fsyncs.
    Status s = db_->Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    if (!s.ok()) return s;
    Stmt v(*db_, "PRAGMA user_version");
    int64_t version = v.Step() ? v.Int(0) : 0;
    const int64_t target = static_cast<int64_t>(std::size(kMigrations));
    for (int64_t i = version; i < target; ++i) {
      s = db_->Exec(std::string("BEGIN IMMEDIATE;") + kMigrations[i] +
                    "PRAGMA user_version=" + std::to_string(i + 1) + "; COMMIT;");
      if (!s.ok()) {
        (void)db_->Exec("ROLLBACK");
        return s.Prefixed("migration " + std::to_string(i + 1));
      }
    }
    // Ids are given here, not by SQLite, so a write the database cannot take
    // now can be kept (WriteBehind) and still be named by its id at once.
    next_deployment_id_ = NextId("deployments");
    next_step_id_ = NextId("steps");
    return Status::Ok();
  }

  size_t FlushPendingWrites() override {
    if (behind_.size() == 0) return 0;
    std::vector<int64_t> ids;
    for (const auto& [id, d] : behind_.unsaved()) ids.push_back(id);
    size_t left = behind_.Flush();
    if (left == 0) {
      for (int64_t id : ids) PublishDeployment(id);
    }
    return left;
  }
  size_t pending_writes() const override { return behind_.size(); }

  Result<int64_t> CreateDeployment(const Deployment& d) override {
    Deployment row = d;
    row.id = next_deployment_id_++;
    row.steps.clear();
    auto made = behind_.Submit([this, row] { return Outcome(InsertDeployment(row)); },
                               "insert deployment " + std::to_string(row.id));
    if (!made.ok()) return made.status().Prefixed("store: insert deployment");
    if (!*made) behind_.unsaved()[row.id] = row;
    PublishDeployment(row.id);
    return row.id;
  }

  Status UpdateDeployment(const Deployment& d) override {
    auto made = behind_.Submit([this, d] { return Outcome(UpdateDeploymentRow(d)); },
                               "update deployment " + std::to_string(d.id));
    if (!made.ok()) return made.status().Prefixed("store: update deployment " + std::to_string(d.id));
    if (!*made) {
      Deployment& u = Unsaved(d.id, d);
      std::vector<Step> steps = std::move(u.steps);
      std::string project = u.project;
      u = d;
      u.steps = std::move(steps);
      u.project = project;
    }
    PublishDeployment(d.id);
    return Status::Ok();
  }

  Result<int64_t> StartStep(int64_t deployment_id, std::string_view name,
                            TimePoint started_at) override {
    Step step;
    step.id = next_step_id_++;
    step.deployment_id = deployment_id;
    step.name = std::string(name);
    step.started_at = started_at;
    auto made = behind_.Submit([this, step] { return Outcome(InsertStep(step)); },
                               "insert step " + std::to_string(step.id));
    if (!made.ok()) return made.status().Prefixed("store: insert step");
    if (!*made) {
      Deployment fallback;
      fallback.id = deployment_id;
      Unsaved(deployment_id, fallback).steps.push_back(step);
    }
    PublishDeployment(deployment_id);
    return step.id;
  }

  Status FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                    std::string_view error) override {
    auto owner = std::make_shared<std::optional<int64_t>>();
    const std::string error_text(error);
    auto made = behind_.Submit(
        [this, step_id, status, finished_at, error_text, owner] {
          Stmt s(*db_,
                 "UPDATE steps SET status=?2, finished_at=?3, error=?4 WHERE id=?1 "
                 "RETURNING deployment_id");
          s.Bind(1, step_id).Bind(2, ToString(status)).Bind(3, ToUnixMillis(finished_at));
          s.Bind(4, error_text);
          // Stepped to the end, so the update is complete before anyone hears of it.
          while (s.Step()) *owner = s.Int(0);
          return Outcome(s.status());
        },
        "finish step " + std::to_string(step_id));
    if (!made.ok()) return made.status().Prefixed("store: finish step");
    if (!*made) {
      Deployment* d = behind_.UnsavedOwnerOfStep(step_id);
      if (d == nullptr) {
        Stmt q(*db_, "SELECT deployment_id FROM steps WHERE id=?1");
        q.Bind(1, step_id);
        if (q.Step()) {
          Deployment fallback;
          fallback.id = q.Int(0);
          d = &Unsaved(fallback.id, fallback);
        }
      }
      if (d != nullptr) {
        for (auto& st : d->steps) {
          if (st.id != step_id) continue;
          st.status = status;
          st.finished_at = finished_at;
          st.error = error_text;
        }
        *owner = d->id;
      }
    }
    if (*owner) PublishDeployment(**owner);
    return Status::Ok();
  }

  Result<std::optional<Deployment>> GetDeployment(int64_t id) override {
    if (auto it = behind_.unsaved().find(id); it != behind_.unsaved().end()) {
      return std::optional<Deployment>(it->second);
    }
    return GetDeploymentRow(id);
  }

  Result<std::optional<Deployment>> GetDeploymentRow(int64_t id) {
    Stmt s(*db_, std::string("SELECT ") + kDeploymentColumns + " FROM deployments WHERE id=?1");
    s.Bind(1, id);
    std::vector<Deployment> list;
    while (s.Step()) list.push_back(ReadDeployment(s));
    if (!s.status().ok()) return s.status().Prefixed("store: get deployment");
    if (list.empty()) return std::optional<Deployment>();
    Status st = LoadSteps(list);
    if (!st.ok()) return st;
    return std::optional<Deployment>(std::move(list[0]));
  }

  Result<std::vector<Deployment>> ListDeployments(const DeploymentFilter& f) override {
    // Keyset paging on the primary key: "id < before" walks an index, so the
    // thousandth page costs what the first does. Only the filters that are
    // set appear in the SQL, so SQLite can pick the (project, id), (machine,
    // id) or (status, id) index instead of scanning every row.
    std::string where;
    auto add = [&](const char* condition) { where += where.empty() ? " WHERE " : " AND "; where += condition; };
    if (!f.project.empty()) add("project = ?1");
    if (!f.machine.empty()) add("machine = ?2");
    if (f.status) add("status = ?3");
    if (f.before_id > 0) add("id < ?4");
    if (f.after_id > 0) add("id > ?5");
    // Paging back (after=) takes the oldest rows above the key, then turns
    // them around so every page reads newest first.
    const bool backwards = f.after_id > 0 && f.before_id <= 0;
    std::string sql = std::string("SELECT ") + kDeploymentColumns + " FROM deployments" + where +
                      (backwards ? " ORDER BY id ASC" : " ORDER BY id DESC") + " LIMIT ?6";
    Stmt s(*db_, sql);
    if (!f.project.empty()) s.Bind(1, f.project);
    if (!f.machine.empty()) s.Bind(2, f.machine);
    if (f.status) s.Bind(3, ToString(*f.status));
    if (f.before_id > 0) s.Bind(4, f.before_id);
    if (f.after_id > 0) s.Bind(5, f.after_id);
    s.Bind(6, static_cast<int64_t>(std::clamp(f.limit, 1, 1000)));
    std::vector<Deployment> list;
    while (s.Step()) list.push_back(ReadDeployment(s));
    if (!s.status().ok()) return s.status().Prefixed("store: list deployments");
    if (backwards) std::reverse(list.begin(), list.end());
    Status st = LoadSteps(list);
    if (!st.ok()) return st;
    behind_.Overlay(
        list,
        [&](const Deployment& d) {
          return (f.project.empty() || d.project == f.project) &&
                 (f.machine.empty() || d.machine == f.machine) && (!f.status || d.status == *f.status) &&
                 (f.before_id <= 0 || d.id < f.before_id) && (f.after_id <= 0 || d.id > f.after_id);
        },
        static_cast<size_t>(std::clamp(f.limit, 1, 1000)));
    return list;
  }

  Result<Neighbours> DeploymentNeighbours(int64_t id, std::string_view project) override {
    // Two index seeks on (project, id).
    Stmt s(*db_,
           "SELECT (SELECT max(id) FROM deployments WHERE project = ?1 AND id < ?2), "
           "(SELECT min(id) FROM deployments WHERE project = ?1 AND id > ?2)");
    s.Bind(1, project).Bind(2, id);
    Neighbours n;
    if (s.Step()) {
      n.previous = s.MaybeInt(0).value_or(0);
      n.next = s.MaybeInt(1).value_or(0);
    }
    if (!s.status().ok()) return s.status().Prefixed("store: neighbours");
    return n;
  }

  Result<std::optional<Deployment>> LatestDeployment(
      std::string_view project, std::optional<DeploymentStatus> status) override {
    DeploymentFilter f;
    f.project = std::string(project);
    f.status = status;
    f.limit = 1;
    auto list = ListDeployments(f);
    if (!list.ok()) return list.status();
    if (list->empty()) return std::optional<Deployment>();
    return std::optional<Deployment>(std::move(list->front()));
  }

  Result<int> InterruptUnfinished(TimePoint now, std::string_view why) override {
    Status s = db_->Exec("BEGIN IMMEDIATE");
    if (!s.ok()) return s.Prefixed("store: interrupt");
    Stmt steps(*db_, "UPDATE steps SET status='interrupted', finished_at=?1, error=?2 "
                     "WHERE status='running'");
    steps.Bind(1, ToUnixMillis(now)).Bind(2, why);
    Stmt deps(*db_, "UPDATE deployments SET status='interrupted', finished_at=?1, error=?2 "
                    "WHERE status IN ('queued', 'running')");
    deps.Bind(1, ToUnixMillis(now)).Bind(2, why);
    s = steps.Run();
    if (s.ok()) s = deps.Run();
    int changed = sqlite3_changes(db_->handle());
    if (!s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s.Prefixed("store: interrupt");
    }
    s = db_->Exec("COMMIT");
    if (!s.ok()) return s.Prefixed("store: interrupt");
    return changed;
  }

  Result<std::optional<int64_t>> RecordHookEvent(const HookEvent& e) override {
    Stmt s(*db_,
           "INSERT INTO hook_events (received_at, source, delivery_id, event, repository, ref, "
           "commit_sha, pusher, verdict, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
           "ON CONFLICT DO NOTHING");
    s.Bind(1, ToUnixMillis(e.received_at)).Bind(2, e.source).Bind(3, e.delivery_id);
    s.Bind(4, e.event).Bind(5, e.repository).Bind(6, e.ref).Bind(7, e.commit).Bind(8, e.pusher);
    s.Bind(9, e.verdict).Bind(10, e.body);
    Status st = s.Run();
    if (!st.ok()) return st.Prefixed("store: record hook");
    if (db_->Changes() == 0) return std::optional<int64_t>();
    return std::optional<int64_t>(db_->LastInsertId());
  }

  Status SetHookVerdict(int64_t id, std::string_view verdict) override {
    return Deferrable("hook verdict", [this, id, verdict = std::string(verdict)] {
      Stmt s(*db_, "UPDATE hook_events SET verdict=?2 WHERE id=?1");
      s.Bind(1, id).Bind(2, verdict);
      return s.Run().Prefixed("store: hook verdict");
    });
  }

  Result<std::vector<HookEvent>> ListHookEvents(int limit, int64_t before_id) override {
    Stmt s(*db_,
           "SELECT id, received_at, source, delivery_id, event, repository, ref, commit_sha, "
           "pusher, verdict FROM hook_events WHERE ?1 = 0 OR id < ?1 ORDER BY id DESC LIMIT ?2");
    s.Bind(1, before_id).Bind(2, static_cast<int64_t>(std::clamp(limit, 1, 1000)));
    std::vector<HookEvent> out;
    while (s.Step()) {
      HookEvent e;
      e.id = s.Int(0);
      e.received_at = FromUnixMillis(s.Int(1));
      e.source = s.Text(2);
      e.delivery_id = s.Text(3);
      e.event = s.Text(4);
      e.repository = s.Text(5);
      e.ref = s.Text(6);
      e.commit = s.Text(7);
      e.pusher = s.Text(8);
      e.verdict = s.Text(9);
      out.push_back(std::move(e));
    }
    if (!s.status().ok()) return s.status().Prefixed("store: hook events");
    return out;
  }

  Result<std::vector<StatusCount>> CountDeployments() override {
    Stmt s(*db_,
           "SELECT project, status, count(*) FROM deployments GROUP BY project, status "
           "ORDER BY project, status");
    std::vector<StatusCount> out;
    while (s.Step()) {
      auto status = ParseDeploymentStatus(s.Text(1));
      if (status) out.push_back({s.Text(0), *status, s.Int(2)});
    }
    if (!s.status().ok()) return s.status().Prefixed("store: count deployments");
    return out;
  }

  Result<int64_t> AddProgramEvent(const ProgramEvent& e) override {
    Stmt s(*db_,
           "INSERT INTO program_events (project, at, kind, version, pid, detail) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    s.Bind(1, e.project).Bind(2, ToUnixMillis(e.at)).Bind(3, e.kind).Bind(4, e.version);
    s.Bind(5, e.pid).Bind(6, e.detail);
    Status st = s.Run();
    if (!st.ok()) return st.Prefixed("store: program event");
    const int64_t id = db_->LastInsertId();
    PublishProject(e.project);
    return id;
  }

  Result<std::vector<ProgramEvent>> ListProgramEvents(std::string_view project,
                                                      int limit) override {
    Stmt s(*db_,
           "SELECT id, project, at, kind, version, pid, detail FROM program_events "
           "WHERE ?1 = '' OR project = ?1 ORDER BY id DESC LIMIT ?2");
    s.Bind(1, project).Bind(2, static_cast<int64_t>(std::clamp(limit, 1, 1000)));
    std::vector<ProgramEvent> out;
    while (s.Step()) {
      ProgramEvent e;
      e.id = s.Int(0);
      e.project = s.Text(1);
      e.at = FromUnixMillis(s.Int(2));
      e.kind = s.Text(3);
      e.version = s.Text(4);
      e.pid = s.Int(5);
      e.detail = s.Text(6);
      out.push_back(std::move(e));
    }
    if (!s.status().ok()) return s.status().Prefixed("store: program events");
    return out;
  }

  Result<int64_t> CountProgramEvents(std::string_view project, std::string_view kind,
                                     TimePoint since) override {
    Stmt s(*db_,
           "SELECT count(*) FROM program_events WHERE project = ?1 AND kind = ?2 AND at >= ?3");
    s.Bind(1, project).Bind(2, kind).Bind(3, ToUnixMillis(since));
    int64_t n = s.Step() ? s.Int(0) : 0;
    if (!s.status().ok()) return s.status().Prefixed("store: count events");
    return n;
  }

  Status SetHeld(std::string_view project, bool held) override {
    return Deferrable("hold", [this, held, project = std::string(project)] {
      Stmt s(*db_, held ? "INSERT OR IGNORE INTO held_projects (project) VALUES (?1)"
                        : "DELETE FROM held_projects WHERE project = ?1");
      s.Bind(1, project);
      Status st = s.Run().Prefixed("store: hold");
      if (st.ok()) PublishProject(project);
      return st;
    });
  }

  Result<bool> IsHeld(std::string_view project) override {
    Stmt s(*db_, "SELECT 1 FROM held_projects WHERE project = ?1");
    s.Bind(1, project);
    bool held = s.Step();
    if (!s.status().ok()) return s.status().Prefixed("store: hold");
    return held;
  }

  Status PutProcess(const Process& p) override { return Put("processes", p); }
  Status DeleteProcess(std::string_view project) override { return Delete("processes", project); }
  Result<std::optional<Process>> GetProcess(std::string_view project) override {
    return GetOne("processes", project);
  }
  Result<std::vector<Process>> ListProcesses() override { return Processes("processes", {}); }

  Status PutCandidate(const Process& p) override { return Put("candidates", p); }
  Status DeleteCandidate(std::string_view project) override {
    return Delete("candidates", project);
  }
  Result<std::optional<Process>> GetCandidate(std::string_view project) override {
    return GetOne("candidates", project);
  }

  Status PromoteCandidate(std::string_view project) override {
    return Deferrable("promote", [this, project = std::string(project)] { return Promote(project); });
  }

  Status Promote(const std::string& project) {
    Status s = db_->Exec("BEGIN IMMEDIATE");
    if (!s.ok()) return s.Prefixed("store: promote");
    Stmt copy(*db_, "INSERT OR REPLACE INTO processes SELECT * FROM candidates WHERE project=?1");
    copy.Bind(1, project);
    Stmt drop(*db_, "DELETE FROM candidates WHERE project=?1");
    drop.Bind(1, project);
    s = copy.Run();
    if (s.ok()) s = drop.Run();
    if (s.ok()) s = db_->Exec("COMMIT");
    if (!s.ok()) {
      const int failed = db_->last_error();
      (void)db_->Exec("ROLLBACK");
      db_->RememberError(failed);  // the write's reason, not the rollback's
      return s.Prefixed("store: promote");
    }
    PublishProject(project);
    return Status::Ok();
  }

  Status AddPin(const Pin& pin) override {
    return Deferrable("pin", [this, pin] {
      Stmt s(*db_,
             "INSERT INTO pins (project, commit_sha, reason, at) VALUES (?1, ?2, ?3, ?4) "
             "ON CONFLICT DO NOTHING");
      s.Bind(1, pin.project).Bind(2, pin.commit).Bind(3, pin.reason).Bind(4, ToUnixMillis(pin.at));
      Status st = s.Run().Prefixed("store: pin");
      if (st.ok()) PublishProject(pin.project);
      return st;
    });
  }

  Status RemovePin(std::string_view project, std::string_view commit) override {
    return Deferrable("unpin", [this, project = std::string(project), commit = std::string(commit)] {
      Stmt s(*db_, "DELETE FROM pins WHERE project=?1 AND commit_sha=?2");
      s.Bind(1, project).Bind(2, commit);
      Status st = s.Run().Prefixed("store: unpin");
      if (st.ok()) PublishProject(project);
      return st;
    });
  }

  Result<std::vector<Pin>> ListPins(std::string_view project) override {
    Stmt s(*db_,
           "SELECT project, commit_sha, reason, at FROM pins WHERE project=?1 "
           "ORDER BY at DESC, rowid DESC");
    s.Bind(1, project);
    std::vector<Pin> out;
    while (s.Step()) out.push_back(Pin{s.Text(0), s.Text(1), s.Text(2), FromUnixMillis(s.Int(3))});
    if (!s.status().ok()) return s.status().Prefixed("store: pins");
    return out;
  }

 private:
  // processes and candidates have the same columns; `table` is one of the two
  // names above, never outside input.
  Status Put(const std::string& table, const Process& p) {
    return Deferrable("put " + table, [this, table, p] { return PutRow(table, p); });
  }

  Status PutRow(const std::string& table, const Process& p) {
    Stmt s(*db_, "INSERT OR REPLACE INTO " + table +
                     " (project, pid, pgid, start_ticks, release, version, commit_sha, "
                     "deployment_id, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    s.Bind(1, p.project).Bind(2, p.pid).Bind(3, p.pgid);
    s.Bind(4, static_cast<int64_t>(p.start_ticks)).Bind(5, p.release).Bind(6, p.version);
    s.Bind(7, p.commit).Bind(8, p.deployment_id).Bind(9, ToUnixMillis(p.started_at));
    Status st = s.Run().Prefixed("store: put " + table);
    if (st.ok()) PublishProject(p.project);
    return st;
  }

  Status Delete(const std::string& table, std::string_view project) {
    return Deferrable("delete from " + table, [this, table, project = std::string(project)] {
      Stmt s(*db_, "DELETE FROM " + table + " WHERE project=?1");
      s.Bind(1, project);
      Status st = s.Run().Prefixed("store: delete from " + table);
      if (st.ok()) PublishProject(project);
      return st;
    });
  }

  // --- Writes the database may not take now (see WriteBehind) ---------------

  WriteBehind::Outcome Outcome(Status s) const {
    const bool transient = !s.ok() && db_->LastErrorIsTransient();
    return {std::move(s), transient};
  }

  Status Deferrable(const std::string& what, std::function<Status()> write) {
    auto made = behind_.Submit([this, write = std::move(write)] { return Outcome(write()); }, what);
    return made.ok() ? Status::Ok() : made.status();
  }

  // The unsaved state of deployment `id`: kept already, else read from the
  // database (or `fallback` when it has no such row yet).
  Deployment& Unsaved(int64_t id, const Deployment& fallback) {
    auto& unsaved = behind_.unsaved();
    auto it = unsaved.find(id);
    if (it != unsaved.end()) return it->second;
    auto row = GetDeploymentRow(id);
    return unsaved[id] = row.ok() && row->has_value() ? **row : fallback;
  }

  Status InsertDeployment(const Deployment& d) {
    Stmt s(*db_,
           "INSERT INTO deployments (id, project, machine, from_version, to_version, from_commit, "
           "to_commit, ref, trigger, actor, status, started_at, finished_at, error, release) "
           "VALUES (?15, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    s.Bind(1, d.project).Bind(2, d.machine).Bind(3, d.from_version).Bind(4, d.to_version);
    s.Bind(5, d.from_commit).Bind(6, d.to_commit).Bind(7, d.ref).Bind(8, ToString(d.trigger));
    s.Bind(9, d.actor).Bind(10, ToString(d.status)).Bind(11, ToUnixMillis(d.started_at));
    s.Bind(12, Millis(d.finished_at)).Bind(13, d.error).Bind(14, d.release).Bind(15, d.id);
    return s.Run().Prefixed("store: insert deployment");
  }

  Status UpdateDeploymentRow(const Deployment& d) {
    Stmt s(*db_,
           "UPDATE deployments SET machine=?2, from_version=?3, to_version=?4, from_commit=?5, "
           "to_commit=?6, ref=?7, trigger=?8, actor=?9, status=?10, started_at=?11, "
           "finished_at=?12, error=?13, release=?14 WHERE id=?1");
    s.Bind(1, d.id).Bind(2, d.machine).Bind(3, d.from_version).Bind(4, d.to_version);
    s.Bind(5, d.from_commit).Bind(6, d.to_commit).Bind(7, d.ref).Bind(8, ToString(d.trigger));
    s.Bind(9, d.actor).Bind(10, ToString(d.status)).Bind(11, ToUnixMillis(d.started_at));
    s.Bind(12, Millis(d.finished_at)).Bind(13, d.error).Bind(14, d.release);
    return s.Run().Prefixed("store: update deployment " + std::to_string(d.id));
  }

  Status InsertStep(const Step& step) {
    Stmt s(*db_,
           "INSERT INTO steps (id, deployment_id, name, status, started_at) "
           "VALUES (?5, ?1, ?2, ?3, ?4)");
    s.Bind(1, step.deployment_id).Bind(2, step.name).Bind(3, ToString(StepStatus::kRunning));
    s.Bind(4, ToUnixMillis(step.started_at)).Bind(5, step.id);
    return s.Run().Prefixed("store: insert step");
  }

  int64_t NextId(const std::string& table) {
    Stmt s(*db_, "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name=?1), 0), "
                 "coalesce((SELECT max(id) FROM " + table + "), 0))");
    s.Bind(1, table);
    return (s.Step() ? s.Int(0) : 0) + 1;
  }

  Result<std::optional<Process>> GetOne(const std::string& table, std::string_view project) {
    auto all = Processes(table, project);
    if (!all.ok()) return all.status();
    if (all->empty()) return std::optional<Process>();
    return std::optional<Process>(all->front());
  }

  Result<std::vector<Process>> Processes(const std::string& table, std::string_view project) {
    Stmt s(*db_,
           "SELECT project, pid, pgid, start_ticks, release, version, commit_sha, deployment_id, "
           "started_at FROM " + table + " WHERE ?1 = '' OR project = ?1 ORDER BY project");
    s.Bind(1, project);
    std::vector<Process> out;
    while (s.Step()) {
      Process p;
      p.project = s.Text(0);
      p.pid = s.Int(1);
      p.pgid = s.Int(2);
      p.start_ticks = static_cast<unsigned long long>(s.Int(3));
      p.release = s.Text(4);
      p.version = s.Text(5);
      p.commit = s.Text(6);
      p.deployment_id = s.Int(7);
      p.started_at = FromUnixMillis(s.Int(8));
      out.push_back(std::move(p));
    }
    if (!s.status().ok()) return s.status().Prefixed("store: " + table);
    return out;
  }

  // Fills the steps of every deployment in `list` with one query (an IN list
  // of bound ids over the steps(deployment_id) index), never one per row.
  Status LoadSteps(std::vector<Deployment>& list) {
    if (list.empty()) return Status::Ok();
    std::map<int64_t, Deployment*> by_id;
    std::string placeholders;
    for (auto& d : list) {
      by_id[d.id] = &d;
      placeholders += placeholders.empty() ? "?" : ",?";
    }
    Stmt s(*db_,
           "SELECT id, deployment_id, name, status, started_at, finished_at, error FROM steps "
           "WHERE deployment_id IN (" + placeholders + ") ORDER BY deployment_id, id");
    int i = 1;
    for (const auto& d : list) s.Bind(i++, d.id);
    while (s.Step()) {
      auto it = by_id.find(s.Int(1));
      if (it == by_id.end()) continue;
      Step step;
      step.id = s.Int(0);
      step.deployment_id = s.Int(1);
      step.name = s.Text(2);
      step.status = ParseStepStatus(s.Text(3)).value_or(StepStatus::kInterrupted);
      step.started_at = FromUnixMillis(s.Int(4));
      if (auto f = s.MaybeInt(5)) step.finished_at = FromUnixMillis(*f);
      step.error = s.Text(6);
      it->second->steps.push_back(std::move(step));
    }
    return s.status().Prefixed("store: load steps");
  }

  std::unique_ptr<Db> db_;
  WriteBehind behind_;
  int64_t next_deployment_id_ = 1;
  int64_t next_step_id_ = 1;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqlite(const std::filesystem::path& file) {
  auto db = Db::Open(file.string());
  if (!db.ok()) return db.status();
  auto store = std::make_unique<SqliteStore>(std::move(db.value()));
  Status s = store->Migrate();
  if (!s.ok()) return s.Prefixed("database " + file.string());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace anthill::store
