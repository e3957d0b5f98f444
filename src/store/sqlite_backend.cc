#include "store/sqlite_backend.h"

namespace anthill::store {

WriteBehind::Outcome SqliteBackend::Outcome(Status s) const {
  const bool transient = !s.ok() && db_->LastErrorIsTransient();
  return {std::move(s), transient};
}

Status SqliteBackend::Deferrable(const std::string& what, std::function<Status()> write) {
  auto made = behind_.Submit([this, write = std::move(write)] { return Outcome(write()); }, what);
  return made.ok() ? Status::Ok() : made.status();
}

void SqliteBackend::PublishDeployment(int64_t id) const {
  feed_.Publish({Change::Kind::kDeployment, id, {}});
}

void SqliteBackend::PublishProject(std::string_view project) const {
  feed_.Publish({Change::Kind::kProject, 0, std::string(project)});
}

}  // namespace anthill::store
