// A few PostgreSQL connections to one server, shared by the coroutines of one
// io_context: `auto lease = co_await pool.Acquire();` lends one out, and the
// lease gives it back when it goes. Connections are made when first needed,
// never more than `size` at once; one found broken (the server went away,
// a query was cut off) or left inside a transaction is dropped when given
// back and replaced by the next Acquire, so a pool outlives a server restart
// or pg_terminate_backend: the call that met the failure fails
// (kUnavailable), the next one gets a new connection. When all are lent
// out, Acquire waits its turn, first come first served, suspended (no
// polling) until a lease ends.
//
// Thread: the io_context thread of the executor it is made with; leases
// and waits belong to that thread too.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/pg_connection.h"

namespace anthill::store {

// A coroutine given one connection to run statements on.
using PgWork = std::function<boost::asio::awaitable<Status>(PgConnection&)>;

// Runs `work` between BEGIN and COMMIT on `conn`. When `work` fails, or a
// statement of it failed (even one whose error `work` ignored), the
// transaction is rolled back and the first error returned; a COMMIT the
// server refuses is the error. REQUIRES: conn is not in a transaction.
boost::asio::awaitable<Status> PgTransaction(PgConnection& conn, PgWork work);

class PgPool {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  // One connection lent out; given back to its pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    PgConnection& operator*() const { return *conn_; }
    PgConnection* operator->() const { return conn_.get(); }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn);
    void GiveBack();

    PgPool* pool_ = nullptr;
    std::unique_ptr<PgConnection> conn_;
  };

  // Connects to `conninfo` (PgConnection::Connect) when a connection is
  // needed; nothing happens until the first Acquire. REQUIRES: size >= 1.
  PgPool(boost::asio::any_io_executor executor, std::string conninfo, size_t size = 4);
  // Closes the idle connections. REQUIRES: no lease out, no Acquire waiting.
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connected connection, lent until the lease goes. Waits while `size`
  // are lent out. A connection that cannot be made is kUnavailable with
  // libpq's message (kInvalidArgument for a malformed conninfo); the next
  // Acquire tries again.
  Awaitable<Result<Lease>> Acquire();

  // Acquire, then PgTransaction on the leased connection.
  Awaitable<Status> InTransaction(PgWork work);

  size_t size() const { return size_; }
  // Connections made and not lent out; leases out (or being connected);
  // Acquires waiting for one. For tests and diagnostics.
  size_t idle() const { return idle_.size(); }
  size_t lent() const { return lent_; }
  size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter;
  // Takes back a lent slot (its connection, or null when there is none or
  // it cannot be reused): to the first waiter, else to the idle list.
  void GiveBack(std::unique_ptr<PgConnection> conn);

  boost::asio::any_io_executor executor_;
  std::string conninfo_;
  size_t size_;
  size_t lent_ = 0;  // slots lent out; the waiters wait for one of these
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::deque<Waiter*> waiters_;  // first come, first served
};

}  // namespace anthill::store
