// Which combinations of roles one process may take, given where its record
// is (README, "A fleet"). Checked before anything is made or locked.
// Thread: any (plain values).
#pragma once

#include "base/status.h"
#include "config/config.h"
#include "store/database.h"

namespace anthill::daemon {

// Ok, or why this process cannot take config.server.roles on `database`;
// the message names the file, line and key (or --role).
//   - every role: any database (the single-machine default);
//   - anything less needs PostgreSQL: on SQLite the process would be alone
//     on its database, with nobody to take its jobs or give it any;
//   - the agent role goes with the orchestrator's (an agent on a machine of
//     its own is `anthill agent`), and an orchestrator without it needs
//     every project on agents (machines or labels): nothing runs here;
//   - a project on agents needs PostgreSQL, whatever the roles.
Status CheckRoles(const config::Config& config, const store::Database& database);

}  // namespace anthill::daemon
