#include "daemon/roles.h"

namespace anthill::daemon {

Status CheckRoles(const config::Config& config, const store::Database& database) {
  const config::Roles& roles = config.server.roles;
  if (roles.all()) return Status::Ok();
  const std::string where = config.server.roles_line > 0
                                ? config.file.string() + ":" +
                                      std::to_string(config.server.roles_line) +
                                      ": key 'roles' in [server]: "
                                : "--role: ";
  const std::string named = "roles " + roles.Describe();
  if (database.postgres.empty()) {
    return Status::InvalidArgument(
        where + named +
        " need [server] database = \"postgresql://...\": on SQLite this process would be alone "
        "on its database, with nobody to share jobs with (every role in one process is the "
        "only way to run on SQLite)");
  }
  if (roles.agent && !roles.orchestrator) {
    return Status::InvalidArgument(where + named +
                                   ": an agent runs beside the orchestrator for now (agents on "
                                   "machines of their own are not built yet)");
  }
  if (roles.orchestrator && !roles.agent) {
    return Status::InvalidArgument(where + named +
                                   ": an orchestrator also needs the agent role for now (it has "
                                   "no other machine to deploy to)");
  }
  return Status::Ok();
}

}  // namespace anthill::daemon
