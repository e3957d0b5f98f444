// The SQLite store's schema: migrations, and the rows recorded before the
// per-machine tables named their machine. Internal to store/.
// Thread: the caller's, at open, before anyone else uses the database.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/sqlite.h"

namespace anthill::store {

// Brings the schema up to date: each migration once, in order, in a
// transaction of its own, recorded in PRAGMA user_version. Sets WAL mode.
// `up_to` > 0 stops at that version (tests make an old database with it).
Status MigrateSchema(Db& db, int up_to = 0);

// Migration 5 gave processes, candidates, held_projects and program_events
// a machine column; a migration cannot know the machine, so the rows it
// found got machine '' ("this database's machine, not yet named"). This
// gives them to `machine`; every open that names a machine calls it, and it
// writes only when there is such a row (the first open after the migration,
// or after an open that named none). Where `machine` already has a row for
// the same project, its own row wins and the unnamed one is left as it is.
Status AdoptUnnamedRows(Db& db, std::string_view machine);

// Other machines that have per-machine state, or deployments still queued or
// running, in this file. In a file only one Anthill uses at a time, that is
// [server] machine having changed: their programs are not re-adopted and
// their deployments not marked interrupted under the new name.
Result<std::vector<std::string>> OtherMachines(Db& db, std::string_view machine);

}  // namespace anthill::store
