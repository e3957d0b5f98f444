#include "store/sqlite_machine_store.h"

#include <algorithm>

namespace anthill::store {

Result<int64_t> SqliteMachineStore::AddProgramEvent(const ProgramEvent& e) {
  Stmt s(b_.db(),
         "INSERT INTO program_events (machine, project, at, kind, version, pid, detail) "
         "VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)");
  s.Bind(1, e.project).Bind(2, ToUnixMillis(e.at)).Bind(3, ToString(e.kind)).Bind(4, e.version);
  s.Bind(5, e.pid).Bind(6, e.detail).Bind(7, b_.machine());
  Status st = s.Run();
  if (!st.ok()) return st.Prefixed("store: program event");
  const int64_t id = b_.db().LastInsertId();
  b_.PublishProject(e.project);
  return id;
}

Result<std::vector<ProgramEvent>> SqliteMachineStore::ListProgramEvents(std::string_view project,
                                                                        int limit) {
  // Two statements rather than "?2 = '' OR project = ?2", which would keep
  // SQLite from seeking the (machine, project, id) index.
  Stmt s(b_.db(), project.empty()
                      ? "SELECT id, project, at, kind, version, pid, detail FROM program_events "
                        "WHERE machine = ?1 ORDER BY id DESC LIMIT ?3"
                      : "SELECT id, project, at, kind, version, pid, detail FROM program_events "
                        "WHERE machine = ?1 AND project = ?2 ORDER BY id DESC LIMIT ?3");
  s.Bind(1, b_.machine()).Bind(3, static_cast<int64_t>(std::clamp(limit, 1, 1000)));
  if (!project.empty()) s.Bind(2, project);
  std::vector<ProgramEvent> out;
  while (s.Step()) {
    ProgramEvent e;
    e.id = s.Int(0);
    e.project = s.Text(1);
    e.at = FromUnixMillis(s.Int(2));
    e.kind = ParseProgramEventKind(s.Text(3)).value_or(ProgramEventKind::kUnknown);
    e.version = s.Text(4);
    e.pid = s.Int(5);
    e.detail = s.Text(6);
    out.push_back(std::move(e));
  }
  if (!s.status().ok()) return s.status().Prefixed("store: program events");
  return out;
}

Result<int64_t> SqliteMachineStore::CountProgramEvents(std::string_view project,
                                                       ProgramEventKind kind, TimePoint since) {
  Stmt s(b_.db(),
         "SELECT count(*) FROM program_events "
         "WHERE machine = ?4 AND project = ?1 AND kind = ?2 AND at >= ?3");
  s.Bind(1, project).Bind(2, ToString(kind)).Bind(3, ToUnixMillis(since)).Bind(4, b_.machine());
  int64_t n = s.Step() ? s.Int(0) : 0;
  if (!s.status().ok()) return s.status().Prefixed("store: count events");
  return n;
}

Status SqliteMachineStore::SetHeld(std::string_view project, bool held) {
  return b_.Deferrable("hold", [this, held, project = std::string(project)] {
    Stmt s(b_.db(), held ? "INSERT OR IGNORE INTO held_projects (machine, project) VALUES (?2, ?1)"
                         : "DELETE FROM held_projects WHERE machine = ?2 AND project = ?1");
    s.Bind(1, project).Bind(2, b_.machine());
    Status st = s.Run().Prefixed("store: hold");
    if (st.ok()) b_.PublishProject(project);
    return st;
  });
}

Result<bool> SqliteMachineStore::IsHeld(std::string_view project) {
  Stmt s(b_.db(), "SELECT 1 FROM held_projects WHERE machine = ?2 AND project = ?1");
  s.Bind(1, project).Bind(2, b_.machine());
  bool held = s.Step();
  if (!s.status().ok()) return s.status().Prefixed("store: hold");
  return held;
}

Status SqliteMachineStore::PutProcess(const Process& p) { return Put("processes", p); }

Status SqliteMachineStore::DeleteProcess(std::string_view project) {
  return Delete("processes", project);
}

Result<std::optional<Process>> SqliteMachineStore::GetProcess(std::string_view project) {
  return GetOne("processes", project);
}

Result<std::vector<Process>> SqliteMachineStore::ListProcesses() {
  return Processes("processes", {});
}

Status SqliteMachineStore::PutCandidate(const Process& p) { return Put("candidates", p); }

Status SqliteMachineStore::DeleteCandidate(std::string_view project) {
  return Delete("candidates", project);
}

Result<std::optional<Process>> SqliteMachineStore::GetCandidate(std::string_view project) {
  return GetOne("candidates", project);
}

Status SqliteMachineStore::PromoteCandidate(std::string_view project) {
  return b_.Deferrable("promote",
                       [this, project = std::string(project)] { return Promote(project); });
}

Status SqliteMachineStore::Promote(const std::string& project) {
  Db& db = b_.db();
  Status s = db.InTransaction([&] {
    constexpr const char* kColumns =
        "machine, project, pid, pgid, start_ticks, release, version, commit_sha, deployment_id, "
        "started_at";
    Stmt copy(db, std::string("INSERT OR REPLACE INTO processes (") + kColumns + ") SELECT " +
                      kColumns + " FROM candidates WHERE machine = ?1 AND project = ?2");
    copy.Bind(1, b_.machine()).Bind(2, project);
    Stmt drop(db, "DELETE FROM candidates WHERE machine = ?1 AND project = ?2");
    drop.Bind(1, b_.machine()).Bind(2, project);
    Status st = copy.Run();
    return st.ok() ? drop.Run() : st;
  });
  if (!s.ok()) return s.Prefixed("store: promote");
  b_.PublishProject(project);
  return Status::Ok();
}

Status SqliteMachineStore::Put(const std::string& table, const Process& p) {
  return b_.Deferrable("put " + table, [this, table, p] {
    Stmt s(b_.db(),
           "INSERT OR REPLACE INTO " + table +
               " (machine, project, pid, pgid, start_ticks, release, version, commit_sha, "
               "deployment_id, started_at) VALUES (?10, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    s.Bind(1, p.project).Bind(2, p.pid).Bind(3, p.pgid);
    s.Bind(4, static_cast<int64_t>(p.start_ticks)).Bind(5, p.release).Bind(6, p.version);
    s.Bind(7, p.commit).Bind(8, p.deployment_id).Bind(9, ToUnixMillis(p.started_at));
    s.Bind(10, b_.machine());
    Status st = s.Run().Prefixed("store: put " + table);
    if (st.ok()) b_.PublishProject(p.project);
    return st;
  });
}

Status SqliteMachineStore::Delete(const std::string& table, std::string_view project) {
  return b_.Deferrable("delete from " + table, [this, table, project = std::string(project)] {
    Stmt s(b_.db(), "DELETE FROM " + table + " WHERE machine = ?2 AND project = ?1");
    s.Bind(1, project).Bind(2, b_.machine());
    Status st = s.Run().Prefixed("store: delete from " + table);
    if (st.ok()) b_.PublishProject(project);
    return st;
  });
}

Result<std::optional<Process>> SqliteMachineStore::GetOne(const std::string& table,
                                                          std::string_view project) {
  auto all = Processes(table, project);
  if (!all.ok()) return all.status();
  if (all->empty()) return std::optional<Process>();
  return std::optional<Process>(all->front());
}

Result<std::vector<Process>> SqliteMachineStore::Processes(const std::string& table,
                                                           std::string_view project) {
  Stmt s(b_.db(),
         "SELECT project, pid, pgid, start_ticks, release, version, commit_sha, deployment_id, "
         "started_at FROM " +
             table + " WHERE machine = ?2 AND (?1 = '' OR project = ?1) ORDER BY project");
  s.Bind(1, project).Bind(2, b_.machine());
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

}  // namespace anthill::store
