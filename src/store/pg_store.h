// The Store of a process whose record is in PostgreSQL (`[server] database
// = "postgresql://..."`): the shared record there, written in order by a
// PgRecordWriter and read through PgRecordStore after the writes before
// each read; this machine's own state (its programs, holds, events) in a
// local SQLite file, as every machine keeps it; changes heard from
// PostgreSQL (LISTEN/NOTIFY, so another orchestrator's deployments reach
// this one's UI) and from the local file, in one feed.
//
// Thread: the io_context thread of the executor it is opened with.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace anthill::store {

// Connects to `conninfo` (a libpq URL or keyword string; the password from
// PGPASSWORD or ~/.pgpass, as libpq reads them), brings the schema up to
// date (safe when several processes start at once), reserves the first ids
// and starts writing and listening; opens `machine_file` (SQLite, made if
// needed) for this machine's state. A server that cannot be reached is
// kUnavailable with libpq's message. Writes kept at a stop are made by
// Stop's caller awaiting Drained (ClosePostgres).
boost::asio::awaitable<Result<std::unique_ptr<Store>>> OpenPostgres(
    boost::asio::any_io_executor executor, std::string conninfo, std::string machine,
    std::filesystem::path machine_file);

}  // namespace anthill::store
