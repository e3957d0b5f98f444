// What Anthill records, in scopes, each its own interface:
//
//   RecordWriter     the shared record's writes (deployments, steps, hook
//                    verdicts, pins): synchronous, made or kept at once,
//                    ids given at once (record_writer.h says why).
//   AsyncRecordStore the shared record's reads, and the writes that must
//                    answer from the database (a hook delivery's replay
//                    check, marking a previous life's rows interrupted):
//                    awaited, because the record may be across a network.
//   MachineStore     one machine's state: its processes, candidates, holds
//                    and program events, keyed by (machine, project); local
//                    to the machine (SQLite), synchronous.
//   ChangeSource     the feed of committed changes (change_feed.h).
//
// Store is all of them, as the daemon uses them. Backends:
// - SQLite (OpenSqlite): the record and the machine's state in one local
//   file. Its record also offers every call synchronously (RecordStore), so
//   it is a LocalStore; async_record() answers each call at once
//   (ImmediateRecordStore).
// - PostgreSQL (OpenPostgres, pg_store.h): the record in PostgreSQL, shared
//   by every process of a fleet; the machine's state in a local SQLite file.
// New code takes the narrowest interface it needs.
//
// Not blocking the loop once the record crosses a network (decided here):
// - Reads are awaited calls, not calls handed to a worker thread: the
//   PostgreSQL backend drives libpq's non-blocking API on the loop itself
//   (PgConnection), on a few pooled connections. The caller's coroutine is
//   suspended while the query is on the wire; the loop serves everyone
//   else; domain state keeps one owner with no locks (ARCHITECTURE.md),
//   which a worker thread posting results back would put at risk.
// - Writes are submitted synchronously and made in order by the backend
//   (SQLite at once unless the file is locked or the disk full, then kept:
//   write_behind.h; PostgreSQL by one writing coroutine: pg_record_writer.h).
//   A read waits for the writes submitted before it, so a caller reads what
//   it wrote.
// - The change feed of PostgreSQL is fed by LISTEN/NOTIFY on a connection of
//   its own, so a change made by another orchestrator reaches this one's UI.
//
// Thread: a Store belongs to the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "store/async_record_store.h"
#include "store/change_feed.h"
#include "store/machine_store.h"
#include "store/record_store.h"
#include "store/record_writer.h"
#include "store/records.h"

namespace anthill::store {

// Virtual bases: a backend may implement each scope in a class of its own
// (the SQLite record and machine halves are) and combine them here.
class Store : public virtual RecordWriter,
              public virtual MachineStore,
              public virtual ChangeSource {
 public:
  ~Store() override = default;

  // Makes the writes kept because the database could not take them, oldest
  // first; returns how many are still kept. The daemon calls it on a timer.
  virtual size_t FlushPendingWrites() = 0;
  virtual size_t pending_writes() const = 0;

  // This store's record as coroutines call it (see above).
  virtual AsyncRecordStore& async_record() = 0;

  // Makes the writes kept (bounded: a few seconds) and ends the store's own
  // coroutines; call before the store goes, on the loop it runs on. Nothing
  // to do for SQLite.
  virtual boost::asio::awaitable<void> Close() { co_return; }
};

// A Store whose record is on local disk and also answers every call
// synchronously (SQLite): tests and start-up use it so.
class LocalStore : public Store, public virtual RecordStore {};

// Opens (creating if needed) the SQLite database at `file` and brings its
// schema up to date, for machine `machine`: the per-machine calls read and
// write its rows, InterruptUnfinished touches its deployments. Rows of the
// per-machine tables recorded before they named a machine (or by an open
// without one) are adopted by the first open that names one. Errors name
// the file.
Result<std::unique_ptr<LocalStore>> OpenSqlite(const std::filesystem::path& file,
                                               std::string_view machine = "");

}  // namespace anthill::store
