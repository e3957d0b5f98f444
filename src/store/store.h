// What Anthill records, in three scopes, each its own interface:
//
//   RecordStore    the shared record: deployments, steps, hook deliveries,
//                  pins. What a fleet shares (PostgreSQL, issue 14).
//   MachineStore   one machine's state: its processes, candidates, holds and
//                  program events, keyed by (machine, project). What an
//                  agent keeps in its own SQLite file.
//   ChangeSource   the feed of committed changes (change_feed.h).
//
// Store is all three over one database, as the single-machine shape uses
// them; SQLite is its only backend today. New code should take the
// narrowest interface it needs.
//
// Thread: a Store belongs to the io_context thread. Calls are synchronous
// and short (SQLite in WAL mode on local disk). A write is durable when it
// returns, so a crash leaves an honest record for start-up to resolve;
// except when the database cannot take it now (locked by another process for
// more than 100 ms, the disk full): then the write is kept in memory, in
// order, reads show it, and FlushPendingWrites makes it later. Ids of
// deployments and steps are given at once either way.
//
// Not blocking the loop once the record crosses a network (decided here):
// - Record calls become awaited calls (AsyncRecordStore), not calls handed
//   to a worker thread. The PostgreSQL backend will drive libpq's
//   non-blocking API on the loop itself: PQsendQueryParams, then co_await
//   its socket (PQsocket in an asio stream_descriptor) until PQisBusy is
//   false, on a few pooled connections. The caller's coroutine is suspended
//   while the query is on the wire; the loop keeps serving everyone else;
//   and domain state keeps one owner with no locks (ARCHITECTURE.md), which
//   a worker thread posting results back would put at risk for every call
//   that touches the store's own state (ids, kept writes, the feed).
// - Writes the database cannot take (connection lost, failover) go to the
//   same write-behind queue (write_behind.h) as SQLite's locked or full
//   disk: an awaited write completes when made or kept, never waits for a
//   reconnect, and reads show kept writes.
// - MachineStore stays synchronous: it is local to its machine by design.
// - The change feed is fed by LISTEN/NOTIFY on a connection of its own.
// SQLite fits this shape now: async_record() answers every call at once
// (ImmediateRecordStore), so a coroutine written against it runs today.
// Callers move from RecordStore to AsyncRecordStore as they become
// coroutines; the synchronous RecordStore leaves Store when none is left,
// and then a PostgreSQL backend implements AsyncRecordStore alone.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "store/async_record_store.h"
#include "store/change_feed.h"
#include "store/machine_store.h"
#include "store/record_store.h"
#include "store/records.h"

namespace anthill::store {

// Virtual bases: a backend may implement each scope in a class of its own
// (the SQLite record and machine halves are) and combine them here.
class Store : public virtual RecordStore, public virtual MachineStore, public virtual ChangeSource {
 public:
  ~Store() override = default;

  // Makes the writes kept because the database could not take them, oldest
  // first; returns how many are still kept. The daemon calls it on a timer.
  virtual size_t FlushPendingWrites() = 0;
  virtual size_t pending_writes() const = 0;

  // This store's record as coroutines call it (see above).
  virtual AsyncRecordStore& async_record() = 0;
};

// Opens (creating if needed) the SQLite database at `file` and brings its
// schema up to date, for machine `machine`: the per-machine calls read and
// write its rows, InterruptUnfinished touches its deployments. Rows of the
// per-machine tables recorded before they named a machine (or by an open
// without one) are adopted by the first open that names one. Errors name
// the file.
Result<std::unique_ptr<Store>> OpenSqlite(const std::filesystem::path& file,
                                          std::string_view machine = "");

}  // namespace anthill::store
