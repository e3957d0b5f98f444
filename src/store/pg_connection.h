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
// query at a time (a query, a LISTEN or a wait for notifications).
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

// Text as a PostgreSQL text value can hold it. A text value must be valid
// UTF-8 without a zero byte, and bytes from outside (a ref name, an error
// message, an actor) need not be: each byte that does not start a valid UTF-8
// sequence, and each zero byte, becomes U+FFFD ("\xEF\xBF\xBD"); valid UTF-8
// passes unchanged. The replacement is lossy by design: what is stored is
// what a person can be shown, and the write never fails because of bytes.
std::string PgValidText(std::string_view bytes);
// bytea's hex text form ("\x00ff") of any bytes, for a bytea parameter.
std::string PgByteaHex(std::string_view bytes);
// The bytes of a bytea cell in hex text form; nullopt when `text` is not
// that form.
std::optional<std::string> PgByteaFromHex(std::string_view text);

// One NOTIFY heard on a connection that LISTENs.
struct PgNotification {
  std::string channel;
  std::string payload;
  int sender_pid = 0;  // the backend that sent it
};

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

  // Reads, without waiting, what the server sent while the connection was
  // idle, and returns !broken(). A server that ended the session (restarted,
  // pg_terminate_backend) has sent its goodbye and closed the socket: both
  // are read here, so a pool sees it before lending the connection out
  // instead of failing the caller's query. Best effort: a drop that has not
  // reached this host yet is found by the next query. Notifications read
  // here wait for WaitForNotifications. REQUIRES: nothing in flight.
  bool StillConnected();

  // True between BEGIN and COMMIT/ROLLBACK (also when a statement of the
  // transaction failed); transaction_failed() only in that last case, when
  // the server ignores everything but ROLLBACK (a COMMIT rolls back too).
  bool in_transaction() const;
  bool transaction_failed() const;
  // True while a query or a wait for notifications is in flight.
  bool busy() const { return in_flight_; }
  // The server process serving this connection (pg_backend_pid()).
  int backend_pid() const;

  // LISTEN on `channel` (an identifier: libpq quotes it, it is no value to
  // pass as $1). Errors as Query's.
  Awaitable<Status> Listen(std::string channel);
  // Waits, suspended on the socket, until at least one notification for a
  // channel this connection LISTENs is in, and returns every one in order
  // of arrival (those read meanwhile by a query come first). A connection
  // lost is kUnavailable and broken(); CancelWait() ends the wait with
  // kCancelled and leaves the connection usable. Same one-at-a-time rule as
  // Query.
  Awaitable<Result<std::vector<PgNotification>>> WaitForNotifications();
  // Ends the wait in flight on the socket (WaitForNotifications, or a
  // Query, which then fails kUnavailable and leaves the connection broken).
  // The waiting coroutine resumes later, through the io_context's queue.
  void CancelWait();

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  Awaitable<Result<PgResult>> Exchange(const std::string& sql, const PgParams& params);
  Awaitable<Result<std::vector<PgNotification>>> AwaitNotifications();
  // The libpq error of the connection (no result to read it from), as a
  // Status: kUnavailable when the connection is gone, else kInternal.
  Status ConnectionError(const std::string& doing);

  pg_conn* conn_;
  std::unique_ptr<os::FdWaiter> waiter_;  // on conn_'s socket once connected
  bool in_flight_ = false;
  bool broken_ = false;
};

}  // namespace anthill::store
