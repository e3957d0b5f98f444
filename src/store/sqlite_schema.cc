#include "store/sqlite_schema.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

namespace anthill::store {

namespace {

// Each entry moves the schema one version up; applied in order, once, inside
// a transaction, and recorded in PRAGMA user_version. Never edit one that
// shipped: add the next.
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
    // Per-machine state keyed by (machine, project) (issue 13). SQLite cannot
    // change a primary key in place: the keyed tables are made again. The
    // machine is not known here: rows found get '' and the first open that
    // names a machine adopts them (AdoptUnnamedRows).
    R"sql(
CREATE TABLE processes_v5 (
  machine       TEXT NOT NULL,
  project       TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  pgid          INTEGER NOT NULL,
  start_ticks   INTEGER NOT NULL,
  release       TEXT NOT NULL,
  version       TEXT NOT NULL,
  commit_sha    TEXT NOT NULL,
  deployment_id INTEGER NOT NULL,
  started_at    INTEGER NOT NULL,
  PRIMARY KEY (machine, project)
);
INSERT INTO processes_v5 (machine, project, pid, pgid, start_ticks, release, version, commit_sha,
                          deployment_id, started_at)
  SELECT '', project, pid, pgid, start_ticks, release, version, commit_sha, deployment_id,
         started_at FROM processes;
DROP TABLE processes;
ALTER TABLE processes_v5 RENAME TO processes;
CREATE TABLE candidates_v5 (
  machine       TEXT NOT NULL,
  project       TEXT NOT NULL,
  pid           INTEGER NOT NULL,
  pgid          INTEGER NOT NULL,
  start_ticks   INTEGER NOT NULL,
  release       TEXT NOT NULL,
  version       TEXT NOT NULL,
  commit_sha    TEXT NOT NULL,
  deployment_id INTEGER NOT NULL,
  started_at    INTEGER NOT NULL,
  PRIMARY KEY (machine, project)
);
INSERT INTO candidates_v5 (machine, project, pid, pgid, start_ticks, release, version, commit_sha,
                           deployment_id, started_at)
  SELECT '', project, pid, pgid, start_ticks, release, version, commit_sha, deployment_id,
         started_at FROM candidates;
DROP TABLE candidates;
ALTER TABLE candidates_v5 RENAME TO candidates;
CREATE TABLE held_projects_v5 (
  machine TEXT NOT NULL,
  project TEXT NOT NULL,
  PRIMARY KEY (machine, project)
);
INSERT INTO held_projects_v5 (machine, project) SELECT '', project FROM held_projects;
DROP TABLE held_projects;
ALTER TABLE held_projects_v5 RENAME TO held_projects;
ALTER TABLE program_events ADD COLUMN machine TEXT NOT NULL DEFAULT '';
DROP INDEX program_events_project;
CREATE INDEX program_events_machine ON program_events(machine, project, id);
)sql",
};

// The per-machine tables with a (machine, project) key; program_events has
// the machine column without a key.
constexpr const char* kKeyedByMachine[] = {"processes", "candidates", "held_projects"};

}  // namespace

Status MigrateSchema(Db& db, int up_to) {
  // WAL: readers never block the writer. synchronous=NORMAL in WAL mode
  // keeps every committed transaction across a crash of Anthill (only a
  // power cut may lose the last ones), at a fraction of FULL's fsyncs.
  Status s = db.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (!s.ok()) return s;
  int64_t version = 0;
  {
    // Finalized before migrating: an open statement keeps a table from
    // being dropped ("database table is locked").
    Stmt v(db, "PRAGMA user_version");
    version = v.Step() ? v.Int(0) : 0;
  }
  const int64_t latest = static_cast<int64_t>(std::size(kMigrations));
  const int64_t target = up_to > 0 ? std::min<int64_t>(up_to, latest) : latest;
  for (int64_t i = version; i < target; ++i) {
    s = db.InTransaction([&] {
      return db.Exec(kMigrations[i] + std::string("PRAGMA user_version=") + std::to_string(i + 1));
    });
    if (!s.ok()) return s.Prefixed("migration " + std::to_string(i + 1));
  }
  return Status::Ok();
}

Status AdoptUnnamedRows(Db& db, std::string_view machine) {
  if (machine.empty()) return Status::Ok();
  // A read first: most opens find nothing to adopt and must not need the
  // write lock (another process may hold it; see write_behind.h).
  std::string any = "SELECT EXISTS (SELECT 1 FROM program_events WHERE machine = '')";
  for (const char* table : kKeyedByMachine) {
    any += std::string(" OR EXISTS (SELECT 1 FROM ") + table + " WHERE machine = '')";
  }
  {
    Stmt q(db, any);
    const bool found = q.Step() && q.Int(0) != 0;
    if (!q.status().ok()) return q.status().Prefixed("adopting rows recorded without a machine");
    if (!found) return Status::Ok();
  }  // finalized: no statement open while writing
  std::vector<std::string> statements = {
      "UPDATE program_events SET machine = ?1 WHERE machine = ''"};
  for (const char* table : kKeyedByMachine) {
    statements.push_back(std::string("UPDATE OR IGNORE ") + table +
                         " SET machine = ?1 WHERE machine = ''");
    // What is left collided with a row of the machine's own: that one wins.
    statements.push_back(std::string("DELETE FROM ") + table + " WHERE machine = ''");
  }
  return db
      .InTransaction([&] {
        for (const auto& sql : statements) {
          Stmt st(db, sql);
          st.Bind(1, machine);
          if (Status s = st.Run(); !s.ok()) return s;
        }
        return Status::Ok();
      })
      .Prefixed("adopting rows recorded without a machine");
}

Result<std::vector<std::string>> OtherMachines(Db& db, std::string_view machine) {
  std::string sql;
  for (const char* table : kKeyedByMachine) {
    sql += std::string(sql.empty() ? "" : " UNION ") + "SELECT machine FROM " + table +
           " WHERE machine NOT IN ('', ?1)";
  }
  sql +=
      " UNION SELECT machine FROM deployments WHERE status IN ('queued', 'running') "
      "AND machine != ?1 ORDER BY 1";
  Stmt s(db, sql);
  s.Bind(1, machine);
  std::vector<std::string> out;
  while (s.Step()) out.push_back(s.Text(0));
  if (!s.status().ok()) return s.status().Prefixed("other machines");
  return out;
}

}  // namespace anthill::store
