// One connection to PostgreSQL, driven from a coroutine without blocking the
// loop: libpq's non-blocking calls (PQconnectStartParams and PQconnectPoll,
// PQsendQueryParams, PQflush, PQconsumeInput, PQisBusy), and whenever libpq
// would wait, the caller's coroutine is suspended on the connection's socket
// (os::FdWaiter) while the loop serves everyone else. store.h says why this
// shape and not a worker thread. The foundation of the PostgreSQL backend
// (issue 14): no pool, no reconnect, no statement cache yet.
//
// Errors are Status kinds, decided by the SQLSTATE the server sends, never by
// its text (PgErrorCode); the message is the server's own ("postgresql:
// <message> (SQLSTATE <code>); <detail>"). A server that cannot be reached or
// that drops the connection is kUnavailable.
//
// Thread: the io_context thread of the executor it was connected with; one
// query at a time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "os/fd_waiter.h"

struct pg_conn;  // libpq's PGconn; libpq-fe.h stays out of this header

namespace anthill::store {

// A query's parameters, $1, $2, ... in text form; nullopt is SQL NULL. Text
// may not hold a zero byte; a bytea goes as its text form ("\x00ff").
using PgParams = std::vector<std::optional<std::string>>;

// What a statement returned, as plain values.
struct PgResult {
  std::vector<std::string> columns;
  // Cells in PostgreSQL's text form (a bytea as "\x00ff", a bool as "t");
  // nullopt is NULL.
  std::vector<std::vector<std::optional<std::string>>> rows;
  // Rows inserted, updated, deleted or selected (libpq's PQcmdTuples); 0 for
  // statements that count none (CREATE TABLE).
  int64_t affected_rows = 0;
};

// The kind of failure a SQLSTATE is:
//   23505 unique_violation                        kConflict
//   class 23, other integrity violations          kInvalidArgument
//   class 22, data exceptions (bad UTF-8, a
//     number out of range, bad text for a type)   kInvalidArgument
//   class 40, 40001 serialization failure and
//     40P01 deadlock (retry the transaction)      kUnavailable
//   class 08 connection, 53 insufficient
//     resources, 57P01-57P03 server going away   kUnavailable
//   57014 query_canceled                          kCancelled
//   anything else (class 42: our own SQL or
//     schema is wrong, a bug)                     kInternal
StatusCode PgErrorCode(std::string_view sqlstate);

class PgConnection {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  // Connects to `conninfo`, a libpq keyword/value string ("host=/run/pg
  // dbname=anthill") or URL ("postgresql://user@db.example:5432/anthill"),
  // with client_encoding UTF8 whatever the server's default. A string libpq
  // cannot parse is kInvalidArgument; a server that cannot be reached or
  // refuses the connection (closed port, authentication, no such database)
  // is kUnavailable with libpq's message, which names the host. Host names
  // are resolved inside libpq, blocking (an address or a Unix socket does
  // not); no time limit of its own: the caller bounds it.
  static Awaitable<Result<std::unique_ptr<PgConnection>>> Connect(
      boost::asio::any_io_executor executor, std::string conninfo);

  // Closes the connection. REQUIRES: no query in flight.
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement (no `;`-separated lists) with `params` as $1, $2, ...
  // (text form) and returns its rows. Suspends the caller until the answer
  // is in; never blocks the loop. A SQL error is the kind PgErrorCode gives
  // and leaves the connection usable. A connection lost, or a wait that
  // failed, is kUnavailable and leaves it broken(). A second call while one
  // is in flight fails at once with kConflict.
  Awaitable<Result<PgResult>> Query(std::string sql, PgParams params);

  // True once the connection cannot serve another query: the server went
  // away or a query was interrupted mid-answer. A pool replaces it.
  bool broken() const;

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  Awaitable<Result<PgResult>> Exchange(const std::string& sql, const PgParams& params);
  // The libpq error of the connection (no result to read it from), as a
  // Status: kUnavailable when the connection is gone, else kInternal.
  Status ConnectionError(const std::string& doing);

  pg_conn* conn_;
  std::unique_ptr<os::FdWaiter> waiter_;  // on conn_'s socket once connected
  bool in_flight_ = false;
  bool broken_ = false;
};

}  // namespace anthill::store
