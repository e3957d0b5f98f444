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
//   - the agent role goes with the orchestrator's (agents of their own, on
//     other machines, are not built yet), and the orchestrator's with the
//     agent's (it has no other machine to deploy to).
Status CheckRoles(const config::Config& config, const store::Database& database);

}  // namespace anthill::daemon
