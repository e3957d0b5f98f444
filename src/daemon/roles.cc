#include "daemon/roles.h"

namespace anthill::daemon {

namespace {

// "anthill.toml:12: key 'machines' in [[project]] 'hello': "
std::string ProjectKey(const config::Config& config, const config::Project& p) {
  return config.file.string() + ":" + std::to_string(p.line) + ": key '" +
         (p.machines.empty() ? "labels" : "machines") + "' in [[project]] '" + p.name + "': ";
}

}  // namespace

Status CheckRoles(const config::Config& config, const store::Database& database) {
  if (database.postgres.empty()) {
    for (const config::Project& p : config.projects) {
      if (!p.on_agents()) continue;
      return Status::InvalidArgument(
          ProjectKey(config, p) +
          "a project on a fleet's agents needs [server] database = \"postgresql://...\" (on "
          "SQLite there are no agents: remove machines and labels to run it on this machine)");
    }
  }
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
    return Status::InvalidArgument(
        where + named +
        ": the agent role in `anthill serve` runs the orchestrator's projects on its own "
        "machine; the agent of a machine of its own is `anthill agent --server URL --machine "
        "NAME --data-dir DIR` (README, A fleet)");
  }
  if (roles.orchestrator && !roles.agent) {
    // Without the agent role nothing runs on this machine: every project
    // must name the agents it runs on.
    for (const config::Project& p : config.projects) {
      if (p.on_agents()) continue;
      return Status::InvalidArgument(
          where + named + ": project '" + p.name + "' (" + config.file.string() + ":" +
          std::to_string(p.line) +
          ") has no machines or labels, so it would run on this machine, which needs the agent "
          "role");
    }
  }
  return Status::Ok();
}

}  // namespace anthill::daemon
