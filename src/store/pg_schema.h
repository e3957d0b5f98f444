// The shared record's tables in PostgreSQL (issue 14): deployments, steps,
// hook_events and pins, as sqlite_schema.cc has them for one machine; then
// the fleet's: builders and build_jobs (pg_build_queue.h), project_holders
// and forwarded_actions (pg_project_ownership.h). The per-machine tables
// (processes, candidates, held_projects, program_events) are not here: they
// stay in each machine's own SQLite file (store.h).
//
// Columns mean what they mean in SQLite: BIGINT identity ids, BIGINT unix
// milliseconds (ToUnixMillis), TEXT for words and names (valid UTF-8: see
// PgValidText), bytea for raw hook bodies. schema_migrations(version,
// applied_at) records each migration applied.
//
// Thread: that of the connection it is given.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "base/status.h"
#include "store/pg_connection.h"

namespace anthill::store {

// How many migrations this build knows: the version it brings a database to.
int PgSchemaVersion();

// Brings the database of `conn` up to date (or to version `up_to` when it is
// > 0, for tests), in one transaction: it first takes a transaction-scoped
// advisory lock of its own (the same fixed key for every Anthill), then
// reads the versions applied, applies the missing ones in order and records
// them. Two processes starting at once on a new database are safe: the
// second waits for the lock, then finds everything applied. A database a
// newer Anthill migrated further is left as it is. Errors name the
// migration ("postgresql migration 1: ..."); nothing of a failed run stays.
// REQUIRES: conn is not in a transaction.
boost::asio::awaitable<Status> MigratePgSchema(PgConnection& conn, int up_to = 0);

}  // namespace anthill::store
