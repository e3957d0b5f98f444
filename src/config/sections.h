// Reading anthill.toml's tables into Config's structs, one reader a table:
// [server] (server.cc), [builder] and [artifacts] (fleet.cc), [agent] (agent.cc), a [[project]]
// (project.cc), a project's `health` (health.cc) and its `rollout` (rollout.cc). Parse() in
// config.cc calls the others' readers. Each reads every key, then checks the values together;
// errors name file:line and key. Internal to config/ (only config/ knows TOML). Thread: any (pure
// functions of the parsed TOML).
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <string>

#include "base/status.h"
#include "config/config.h"
#include "config/table_reader.h"

namespace anthill::config {

// The node of the top-level key `server` into `s`; it must be a table.
Status ReadServer(const toml::node& node, const std::string& file, Server& s);

// [builder] and [artifacts] (fleet.cc); each must be a table.
Status ReadBuilder(const toml::node& node, const std::string& file, Builder& b);
Status ReadArtifacts(const toml::node& node, const std::string& file, Artifacts& a);

// [agent] (agent.cc): a table; relative paths are resolved against `base`.
Status ReadAgent(const toml::node& node, const std::string& file, const std::filesystem::path& base,
                 Agent& a);

// `env = { NAME = "value", ... }` (`node`, read by `r` at key "env") into
// `env`: names of [A-Za-z_][A-Za-z0-9_]*, string values (project.cc).
void ReadEnv(TableReader& r, const toml::node& node, std::map<std::string, std::string>& env);

// One [[project]] table into `p`. `names` maps the project names read so far
// to their lines (a second one is an error), and gets this one's. Relative
// local repos ("./x", "../x") are resolved against `base`.
Status ReadProject(const toml::table& table, const std::string& file,
                   const std::filesystem::path& base, std::map<std::string, int>& names,
                   Project& p);

// A project's `health = { ... }` (`node`, read by `project`) into `h`.
// Errors inside the table (an unknown key, a bad duration) are returned, with
// their own location; errors about the check as a whole (not a table, not
// exactly one of http, tcp or command) are `project`'s, at the health key.
Status ReadHealth(TableReader& project, const toml::node& node, const std::string& file,
                  const std::string& where, HealthCheck& h);

// A project's `rollout = { ... }` (`node`, read by `project`) into `r`,
// as ReadHealth: errors inside the table are returned with their own
// location; "not a table" is `project`'s, at the rollout key.
Status ReadRollout(TableReader& project, const toml::node& node, const std::string& file,
                   const std::string& where, Rollout& r);

}  // namespace anthill::config
