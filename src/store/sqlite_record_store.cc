#include "store/sqlite_record_store.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

namespace anthill::store {

namespace {

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

// Binds ?1 to the id and ?2..?14 to every column an update writes, in the
// order of kDeploymentColumns (project, which never changes, is not one):
// the insert and the update share them.
Stmt& BindDeployment(Stmt& s, const Deployment& d) {
  s.Bind(1, d.id).Bind(2, d.machine).Bind(3, d.from_version).Bind(4, d.to_version);
  s.Bind(5, d.from_commit).Bind(6, d.to_commit).Bind(7, d.ref).Bind(8, ToString(d.trigger));
  s.Bind(9, d.actor).Bind(10, ToString(d.status)).Bind(11, ToUnixMillis(d.started_at));
  return s.Bind(12, Millis(d.finished_at)).Bind(13, d.error).Bind(14, d.release);
}

}  // namespace

void SqliteRecordStore::LoadNextIds() {
  // Ids are given here, not by SQLite, so a write the database cannot take
  // now can be kept (WriteBehind) and still be named by its id at once.
  next_deployment_id_ = NextId("deployments");
  next_step_id_ = NextId("steps");
}

Result<int64_t> SqliteRecordStore::CreateDeployment(const Deployment& d) {
  Deployment row = d;
  row.id = next_deployment_id_++;
  row.steps.clear();
  auto made = b_.behind().Submit([this, row] { return b_.Outcome(InsertDeployment(row)); },
                                 "insert deployment " + std::to_string(row.id));
  if (!made.ok()) return made.status().Prefixed("store: insert deployment");
  if (!*made) b_.behind().unsaved()[row.id] = row;
  b_.PublishDeployment(row.id);
  return row.id;
}

Status SqliteRecordStore::UpdateDeployment(const Deployment& d) {
  auto made = b_.behind().Submit([this, d] { return b_.Outcome(UpdateDeploymentRow(d)); },
                                 "update deployment " + std::to_string(d.id));
  if (!made.ok()) {
    return made.status().Prefixed("store: update deployment " + std::to_string(d.id));
  }
  if (!*made) {
    Deployment& u = Unsaved(d.id, d);
    std::vector<Step> steps = std::move(u.steps);
    std::string project = u.project;
    u = d;
    u.steps = std::move(steps);
    u.project = project;
  }
  b_.PublishDeployment(d.id);
  return Status::Ok();
}

Result<int64_t> SqliteRecordStore::StartStep(int64_t deployment_id, StepName name,
                                             TimePoint started_at) {
  Step step;
  step.id = next_step_id_++;
  step.deployment_id = deployment_id;
  step.name = name;
  step.started_at = started_at;
  auto made = b_.behind().Submit([this, step] { return b_.Outcome(InsertStep(step)); },
                                 "insert step " + std::to_string(step.id));
  if (!made.ok()) return made.status().Prefixed("store: insert step");
  if (!*made) {
    Deployment fallback;
    fallback.id = deployment_id;
    Unsaved(deployment_id, fallback).steps.push_back(step);
  }
  b_.PublishDeployment(deployment_id);
  return step.id;
}

Status SqliteRecordStore::FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                                     std::string_view error) {
  auto owner = std::make_shared<std::optional<int64_t>>();
  const std::string error_text(error);
  auto made = b_.behind().Submit(
      [this, step_id, status, finished_at, error_text, owner] {
        Stmt s(b_.db(),
               "UPDATE steps SET status=?2, finished_at=?3, error=?4 WHERE id=?1 "
               "RETURNING deployment_id");
        s.Bind(1, step_id).Bind(2, ToString(status)).Bind(3, ToUnixMillis(finished_at));
        s.Bind(4, error_text);
        // Stepped to the end, so the update is complete before anyone hears of it.
        while (s.Step()) *owner = s.Int(0);
        return b_.Outcome(s.status());
      },
      "finish step " + std::to_string(step_id));
  if (!made.ok()) return made.status().Prefixed("store: finish step");
  if (!*made) {
    Deployment* d = b_.behind().UnsavedOwnerOfStep(step_id);
    if (d == nullptr) {
      Stmt q(b_.db(), "SELECT deployment_id FROM steps WHERE id=?1");
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
  if (*owner) b_.PublishDeployment(**owner);
  return Status::Ok();
}

Result<std::optional<Deployment>> SqliteRecordStore::GetDeployment(int64_t id) {
  auto& unsaved = b_.behind().unsaved();
  if (auto it = unsaved.find(id); it != unsaved.end()) {
    return std::optional<Deployment>(it->second);
  }
  return GetDeploymentRow(id);
}

Result<std::optional<Deployment>> SqliteRecordStore::GetDeploymentRow(int64_t id) {
  Stmt s(b_.db(), std::string("SELECT ") + kDeploymentColumns + " FROM deployments WHERE id=?1");
  s.Bind(1, id);
  std::vector<Deployment> list;
  while (s.Step()) list.push_back(ReadDeployment(s));
  if (!s.status().ok()) return s.status().Prefixed("store: get deployment");
  if (list.empty()) return std::optional<Deployment>();
  Status st = LoadSteps(list);
  if (!st.ok()) return st;
  return std::optional<Deployment>(std::move(list[0]));
}

Result<std::vector<Deployment>> SqliteRecordStore::ListDeployments(const DeploymentFilter& f) {
  // Keyset paging on the primary key: "id < before" walks an index, so the
  // thousandth page costs what the first does. Only the filters that are
  // set appear in the SQL, so SQLite can pick the (project, id), (machine,
  // id) or (status, id) index instead of scanning every row.
  std::string where;
  auto add = [&](const char* condition) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
  };
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
  Stmt s(b_.db(), sql);
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
  b_.behind().Overlay(
      list,
      [&](const Deployment& d) {
        return (f.project.empty() || d.project == f.project) &&
               (f.machine.empty() || d.machine == f.machine) &&
               (!f.status || d.status == *f.status) && (f.before_id <= 0 || d.id < f.before_id) &&
               (f.after_id <= 0 || d.id > f.after_id);
      },
      static_cast<size_t>(std::clamp(f.limit, 1, 1000)));
  return list;
}

Result<RecordStore::Neighbours> SqliteRecordStore::DeploymentNeighbours(int64_t id,
                                                                        std::string_view project) {
  // Two index seeks on (project, id).
  Stmt s(b_.db(),
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

Result<std::optional<Deployment>> SqliteRecordStore::LatestDeployment(
    std::string_view project, std::optional<DeploymentStatus> status) {
  DeploymentFilter f;
  f.project = std::string(project);
  f.status = status;
  f.limit = 1;
  auto list = ListDeployments(f);
  if (!list.ok()) return list.status();
  if (list->empty()) return std::optional<Deployment>();
  return std::optional<Deployment>(std::move(list->front()));
}

Result<int> SqliteRecordStore::InterruptUnfinished(TimePoint now, std::string_view why) {
  Db& db = b_.db();
  int changed = 0;
  Status s = db.InTransaction([&] {
    // Steps first, while their deployments still say running; both only of
    // this machine (the (machine, id) index finds its deployments).
    Stmt steps(db,
               "UPDATE steps SET status='interrupted', finished_at=?1, error=?2 "
               "WHERE status='running' AND deployment_id IN "
               "(SELECT id FROM deployments WHERE machine = ?3)");
    steps.Bind(1, ToUnixMillis(now)).Bind(2, why).Bind(3, b_.machine());
    Stmt deps(db,
              "UPDATE deployments SET status='interrupted', finished_at=?1, error=?2 "
              "WHERE status IN ('queued', 'running') AND machine = ?3");
    deps.Bind(1, ToUnixMillis(now)).Bind(2, why).Bind(3, b_.machine());
    Status st = steps.Run();
    if (st.ok()) st = deps.Run();
    changed = db.Changes();
    return st;
  });
  if (!s.ok()) return s.Prefixed("store: interrupt");
  return changed;
}

Result<int> SqliteRecordStore::InterruptUnfinishedOfProject(TimePoint now, std::string_view project,
                                                            std::string_view why) {
  Db& db = b_.db();
  std::set<int64_t> touched;  // deployments changed, themselves or a step of theirs
  int changed = 0;
  Status s = db.InTransaction([&] {
    // As InterruptUnfinished, by project instead of machine (the (project,
    // id) index finds its deployments). Unlike at start-up, listeners are
    // up: each deployment touched is published once the change commits, as
    // PostgreSQL's NOTIFY tells them.
    Stmt steps(db,
               "UPDATE steps SET status='interrupted', finished_at=?1, error=?2 "
               "WHERE status='running' AND deployment_id IN "
               "(SELECT id FROM deployments WHERE project = ?3) RETURNING deployment_id");
    steps.Bind(1, ToUnixMillis(now)).Bind(2, why).Bind(3, project);
    while (steps.Step()) touched.insert(steps.Int(0));
    if (!steps.status().ok()) return steps.status();
    Stmt deps(db,
              "UPDATE deployments SET status='interrupted', finished_at=?1, error=?2 "
              "WHERE status IN ('queued', 'running') AND project = ?3 RETURNING id");
    deps.Bind(1, ToUnixMillis(now)).Bind(2, why).Bind(3, project);
    while (deps.Step()) {
      touched.insert(deps.Int(0));
      ++changed;
    }
    return deps.status();
  });
  if (!s.ok()) return s.Prefixed("store: interrupt project " + std::string(project));
  for (int64_t id : touched) b_.PublishDeployment(id);
  return changed;
}

Result<std::optional<int64_t>> SqliteRecordStore::RecordHookEvent(const HookEvent& e) {
  Stmt s(b_.db(),
         "INSERT INTO hook_events (received_at, source, delivery_id, event, repository, ref, "
         "commit_sha, pusher, verdict, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
         "ON CONFLICT DO NOTHING");
  s.Bind(1, ToUnixMillis(e.received_at)).Bind(2, e.source).Bind(3, e.delivery_id);
  s.Bind(4, e.event).Bind(5, e.repository).Bind(6, e.ref).Bind(7, e.commit).Bind(8, e.pusher);
  s.Bind(9, e.verdict).Bind(10, e.body);
  Status st = s.Run();
  if (!st.ok()) return st.Prefixed("store: record hook");
  if (b_.db().Changes() == 0) return std::optional<int64_t>();
  return std::optional<int64_t>(b_.db().LastInsertId());
}

Status SqliteRecordStore::SetHookVerdict(int64_t id, std::string_view verdict) {
  return b_.Deferrable("hook verdict", [this, id, verdict = std::string(verdict)] {
    Stmt s(b_.db(), "UPDATE hook_events SET verdict=?2 WHERE id=?1");
    s.Bind(1, id).Bind(2, verdict);
    return s.Run().Prefixed("store: hook verdict");
  });
}

Result<std::vector<HookEvent>> SqliteRecordStore::ListHookEvents(int limit, int64_t before_id) {
  Stmt s(b_.db(),
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

Result<std::vector<RecordStore::StatusCount>> SqliteRecordStore::CountDeployments() {
  Stmt s(b_.db(),
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

Status SqliteRecordStore::AddPin(const Pin& pin) {
  return b_.Deferrable("pin", [this, pin] {
    Stmt s(b_.db(),
           "INSERT INTO pins (project, commit_sha, reason, at) VALUES (?1, ?2, ?3, ?4) "
           "ON CONFLICT DO NOTHING");
    s.Bind(1, pin.project).Bind(2, pin.commit).Bind(3, pin.reason).Bind(4, ToUnixMillis(pin.at));
    Status st = s.Run().Prefixed("store: pin");
    if (st.ok()) b_.PublishProject(pin.project);
    return st;
  });
}

Status SqliteRecordStore::RemovePin(std::string_view project, std::string_view commit) {
  return b_.Deferrable("unpin",
                       [this, project = std::string(project), commit = std::string(commit)] {
                         Stmt s(b_.db(), "DELETE FROM pins WHERE project=?1 AND commit_sha=?2");
                         s.Bind(1, project).Bind(2, commit);
                         Status st = s.Run().Prefixed("store: unpin");
                         if (st.ok()) b_.PublishProject(project);
                         return st;
                       });
}

Result<std::vector<Pin>> SqliteRecordStore::ListPins(std::string_view project) {
  Stmt s(b_.db(),
         "SELECT project, commit_sha, reason, at FROM pins WHERE project=?1 "
         "ORDER BY at DESC, rowid DESC");
  s.Bind(1, project);
  std::vector<Pin> out;
  while (s.Step()) out.push_back(Pin{s.Text(0), s.Text(1), s.Text(2), FromUnixMillis(s.Int(3))});
  if (!s.status().ok()) return s.status().Prefixed("store: pins");
  return out;
}

Deployment& SqliteRecordStore::Unsaved(int64_t id, const Deployment& fallback) {
  auto& unsaved = b_.behind().unsaved();
  auto it = unsaved.find(id);
  if (it != unsaved.end()) return it->second;
  auto row = GetDeploymentRow(id);
  return unsaved[id] = row.ok() && row->has_value() ? **row : fallback;
}

Status SqliteRecordStore::InsertDeployment(const Deployment& d) {
  Stmt s(b_.db(),
         std::string("INSERT INTO deployments (") + kDeploymentColumns +
             ") VALUES (?1, ?15, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  BindDeployment(s, d).Bind(15, d.project);
  return s.Run().Prefixed("store: insert deployment");
}

Status SqliteRecordStore::UpdateDeploymentRow(const Deployment& d) {
  Stmt s(b_.db(),
         "UPDATE deployments SET machine=?2, from_version=?3, to_version=?4, from_commit=?5, "
         "to_commit=?6, ref=?7, trigger=?8, actor=?9, status=?10, started_at=?11, "
         "finished_at=?12, error=?13, release=?14 WHERE id=?1");
  BindDeployment(s, d);
  return s.Run().Prefixed("store: update deployment " + std::to_string(d.id));
}

Status SqliteRecordStore::InsertStep(const Step& step) {
  Stmt s(b_.db(),
         "INSERT INTO steps (id, deployment_id, name, status, started_at) "
         "VALUES (?5, ?1, ?2, ?3, ?4)");
  s.Bind(1, step.deployment_id)
      .Bind(2, ToString(step.name))
      .Bind(3, ToString(StepStatus::kRunning));
  s.Bind(4, ToUnixMillis(step.started_at)).Bind(5, step.id);
  return s.Run().Prefixed("store: insert step");
}

int64_t SqliteRecordStore::NextId(const std::string& table) {
  Stmt s(b_.db(),
         "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name=?1), 0), "
         "coalesce((SELECT max(id) FROM " +
             table + "), 0))");
  s.Bind(1, table);
  return (s.Step() ? s.Int(0) : 0) + 1;
}

// One query (an IN list of bound ids over the steps(deployment_id) index),
// never one per row.
Status SqliteRecordStore::LoadSteps(std::vector<Deployment>& list) {
  if (list.empty()) return Status::Ok();
  std::map<int64_t, Deployment*> by_id;
  std::string placeholders;
  for (auto& d : list) {
    by_id[d.id] = &d;
    placeholders += placeholders.empty() ? "?" : ",?";
  }
  Stmt s(b_.db(),
         "SELECT id, deployment_id, name, status, started_at, finished_at, error FROM steps "
         "WHERE deployment_id IN (" +
             placeholders + ") ORDER BY deployment_id, id");
  int i = 1;
  for (const auto& d : list) s.Bind(i++, d.id);
  while (s.Step()) {
    auto it = by_id.find(s.Int(1));
    if (it == by_id.end()) continue;
    Step step;
    step.id = s.Int(0);
    step.deployment_id = s.Int(1);
    step.name = ParseStepName(s.Text(2)).value_or(StepName::kUnknown);
    step.status = ParseStepStatus(s.Text(3)).value_or(StepStatus::kInterrupted);
    step.started_at = FromUnixMillis(s.Int(4));
    if (auto f = s.MaybeInt(5)) step.finished_at = FromUnixMillis(*f);
    step.error = s.Text(6);
    it->second->steps.push_back(std::move(step));
  }
  return s.status().Prefixed("store: load steps");
}

}  // namespace anthill::store
