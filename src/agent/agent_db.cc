#include "agent/agent_db.h"

#include <random>

#include "deploy/agent_protocol.h"

namespace anthill::agent {

namespace {

// Each entry moves the schema one version up, once, in a transaction,
// recorded in PRAGMA user_version. Never edit one that shipped: add the next.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE projects (
  project    TEXT PRIMARY KEY,
  desired    TEXT NOT NULL DEFAULT '',
  report     TEXT NOT NULL DEFAULT '',
  failed_run TEXT NOT NULL DEFAULT ''
);
CREATE TABLE outbox (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  project TEXT NOT NULL DEFAULT '',
  part    TEXT NOT NULL
);
CREATE TABLE open_steps (
  key  TEXT PRIMARY KEY,
  part TEXT NOT NULL
);
)sql",
};

std::string RandomHex16() {
  std::random_device random;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) out += kHex[random() % 16];
  return out;
}

// An outbox row's text: a report holding just that part. Its id is not
// sent (the sender gives each POST its own).
std::string PartJson(store::AgentReport part) {
  part.id = "part";
  return deploy::ToJson(part);
}

}  // namespace

Result<std::unique_ptr<AgentDb>> AgentDb::Open(const std::filesystem::path& file) {
  auto db = store::Db::Open(file.string());
  if (!db.ok()) return db.status();
  std::unique_ptr<AgentDb> out(new AgentDb(std::move(db.value())));
  Status s = out->Load();
  if (!s.ok()) return s.Prefixed(file.string());
  return out;
}

Status AgentDb::Load() {
  Status s = db_->Exec("PRAGMA journal_mode=WAL");
  if (!s.ok()) return s;
  int64_t version = 0;
  {
    store::Stmt v(*db_, "PRAGMA user_version");
    version = v.Step() ? v.Int(0) : 0;
  }
  const int64_t latest = static_cast<int64_t>(std::size(kMigrations));
  for (int64_t i = version; i < latest; ++i) {
    s = db_->InTransaction([&] {
      return db_->Exec(kMigrations[i] + std::string("PRAGMA user_version=") +
                       std::to_string(i + 1));
    });
    if (!s.ok()) return s.Prefixed("migration " + std::to_string(i + 1));
  }
  {
    store::Stmt q(*db_, "SELECT key, value FROM meta");
    while (q.Step()) {
      const std::string key = q.Text(0);
      if (key == "id") id_ = q.Text(1);
      if (key == "generation") generation_ = std::atoll(q.Text(1).c_str());
      if (key == "desired") desired_ = q.Text(1);
    }
    if (!q.status().ok()) return q.status();
  }
  if (id_.empty()) {
    id_ = RandomHex16();
    return SetMeta("id", id_);
  }
  return Status::Ok();
}

Status AgentDb::SetMeta(const std::string& key, const std::string& value) {
  store::Stmt q(*db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  q.Bind(1, key).Bind(2, value);
  return q.Run();
}

Result<bool> AgentDb::SaveDesired(int64_t generation, const std::string& json) {
  if (generation <= generation_) return false;
  Status s = db_->InTransaction([&] {
    Status g = SetMeta("generation", std::to_string(generation));
    return g.ok() ? SetMeta("desired", json) : g;
  });
  if (!s.ok()) return s.Prefixed("cannot keep desired generation " + std::to_string(generation));
  generation_ = generation;
  desired_ = json;
  return true;
}

Result<std::vector<AgentDb::ProjectRow>> AgentDb::Projects() {
  std::vector<ProjectRow> rows;
  store::Stmt q(*db_, "SELECT project, desired, report, failed_run FROM projects ORDER BY project");
  while (q.Step()) rows.push_back({q.Text(0), q.Text(1), q.Text(2), q.Text(3)});
  if (!q.status().ok()) return q.status();
  return rows;
}

Status AgentDb::SaveProject(const ProjectRow& row) {
  store::Stmt q(*db_,
                "INSERT OR REPLACE INTO projects (project, desired, report, failed_run) "
                "VALUES (?1, ?2, ?3, ?4)");
  q.Bind(1, row.project).Bind(2, row.desired).Bind(3, row.report).Bind(4, row.failed_run);
  return q.Run().Prefixed("cannot keep project " + row.project);
}

Status AgentDb::QueueStep(const store::AgentStep& step) {
  store::AgentReport part;
  part.steps.push_back(step);
  const std::string text = PartJson(part);
  return db_->InTransaction([&] {
    store::Stmt q(*db_, "INSERT INTO outbox (part) VALUES (?1)");
    q.Bind(1, text);
    if (Status s = q.Run(); !s.ok()) return s;
    if (step.status == store::StepStatus::kRunning) {
      store::Stmt open(*db_, "INSERT OR REPLACE INTO open_steps (key, part) VALUES (?1, ?2)");
      open.Bind(1, step.key).Bind(2, text);
      return open.Run();
    }
    store::Stmt ended(*db_, "DELETE FROM open_steps WHERE key = ?1");
    ended.Bind(1, step.key);
    return ended.Run();
  });
}

Status AgentDb::QueueState(const std::string& project, const std::string& state) {
  store::AgentReport part;
  part.states.emplace_back(project, state);
  const std::string text = PartJson(part);
  return db_->InTransaction([&] {
    store::Stmt older(*db_, "DELETE FROM outbox WHERE project = ?1");
    older.Bind(1, project);
    if (Status s = older.Run(); !s.ok()) return s;
    store::Stmt q(*db_, "INSERT INTO outbox (project, part) VALUES (?1, ?2)");
    q.Bind(1, project).Bind(2, text);
    return q.Run();
  });
}

Result<std::vector<AgentDb::Item>> AgentDb::Oldest(int limit) {
  std::vector<Item> items;
  store::Stmt q(*db_, "SELECT id, part FROM outbox ORDER BY id LIMIT ?1");
  q.Bind(1, static_cast<int64_t>(limit));
  while (q.Step()) {
    auto part = deploy::ParseAgentReport(q.Text(1));
    // A row this build cannot read is skipped (and acknowledged with the
    // rest): it must not stop every report after it.
    items.push_back({q.Int(0), part.ok() ? std::move(part.value()) : store::AgentReport{}});
  }
  if (!q.status().ok()) return q.status();
  return items;
}

Status AgentDb::Acknowledge(int64_t id) {
  store::Stmt q(*db_, "DELETE FROM outbox WHERE id <= ?1");
  q.Bind(1, id);
  return q.Run();
}

Result<int64_t> AgentDb::Queued() {
  store::Stmt q(*db_, "SELECT COUNT(*) FROM outbox");
  const int64_t n = q.Step() ? q.Int(0) : 0;
  if (!q.status().ok()) return q.status();
  return n;
}

Result<std::vector<store::AgentStep>> AgentDb::OpenSteps() {
  std::vector<store::AgentStep> steps;
  store::Stmt q(*db_, "SELECT part FROM open_steps ORDER BY key");
  while (q.Step()) {
    auto part = deploy::ParseAgentReport(q.Text(0));
    if (part.ok() && part->steps.size() == 1) steps.push_back(part->steps[0]);
  }
  if (!q.status().ok()) return q.status();
  return steps;
}

}  // namespace anthill::agent
