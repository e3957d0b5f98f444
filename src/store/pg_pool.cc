#include "store/pg_pool.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cassert>

namespace anthill::store {

namespace asio = boost::asio;

asio::awaitable<Status> PgTransaction(PgConnection& conn, PgWork work) {
  const PgParams none;
  std::string begin = "BEGIN";
  auto begun = co_await conn.Query(begin, none);
  if (!begun.ok()) co_return begun.status().Prefixed("postgresql: BEGIN");
  Status done = co_await work(conn);
  // A statement that failed aborts the transaction even when `work` went on:
  // COMMIT would then roll back and still answer "ok".
  if (done.ok() && conn.transaction_failed()) {
    done = Status::Internal("postgresql: a statement of the transaction failed; rolled back");
  }
  if (done.ok()) {
    std::string commit = "COMMIT";
    auto committed = co_await conn.Query(commit, none);
    co_return committed.status().Prefixed("postgresql: COMMIT");
  }
  if (!conn.broken()) {
    // When even this fails, the connection stays in the transaction and
    // its pool drops it (PgPool gives no such connection out again).
    std::string rollback = "ROLLBACK";
    auto rolled_back = co_await conn.Query(rollback, none);
    (void)rolled_back;
  }
  co_return done;
}

// One Acquire waiting for a slot. GiveBack hands the slot over by setting
// `granted` (and `conn`, which may be null) and cancelling the timer, which
// never expires on its own: the cancel is the signal that wakes it.
struct PgPool::Waiter {
  explicit Waiter(const asio::any_io_executor& executor)
      : wake(executor, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  bool granted = false;
  std::unique_ptr<PgConnection> conn;
};

PgPool::Lease::Lease(PgPool* pool, std::unique_ptr<PgConnection> conn)
    : pool_(pool), conn_(std::move(conn)) {}

PgPool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}

PgPool::Lease& PgPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    GiveBack();
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
  }
  return *this;
}

PgPool::Lease::~Lease() { GiveBack(); }

void PgPool::Lease::GiveBack() {
  if (pool_ != nullptr) std::exchange(pool_, nullptr)->GiveBack(std::move(conn_));
}

PgPool::PgPool(asio::any_io_executor executor, std::string conninfo, size_t size)
    : executor_(std::move(executor)),
      conninfo_(std::move(conninfo)),
      size_(std::max<size_t>(size, 1)) {}

PgPool::~PgPool() { assert(lent_ == 0 && waiters_.empty()); }

void PgPool::GiveBack(std::unique_ptr<PgConnection> conn) {
  // Only a connection that is idle, outside a transaction and still up is
  // lent again: anything else would hand the next caller someone else's
  // half-read answer or open transaction.
  if (conn && (conn->busy() || conn->in_transaction() || conn->broken())) conn.reset();
  if (!waiters_.empty()) {
    Waiter* next = waiters_.front();
    waiters_.pop_front();
    next->granted = true;
    next->conn = std::move(conn);
    next->wake.cancel();
    return;
  }
  --lent_;
  if (conn) idle_.push_back(std::move(conn));
}

asio::awaitable<Result<PgPool::Lease>> PgPool::Acquire() {
  std::unique_ptr<PgConnection> conn;
  if (lent_ < size_) {
    ++lent_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());  // the most recently used: likeliest still up
      idle_.pop_back();
    }
  } else {
    Waiter waiter(executor_);
    waiters_.push_back(&waiter);
    // When this coroutine is destroyed while it waits (its io_context
    // goes), the queue must forget it, and a slot already handed to it
    // must go on to the next one.
    struct Leave {
      PgPool* pool;
      Waiter* waiter;
      ~Leave() {
        if (waiter == nullptr) return;
        if (waiter->granted) {
          pool->GiveBack(std::move(waiter->conn));
        } else {
          auto& q = pool->waiters_;
          q.erase(std::remove(q.begin(), q.end(), waiter), q.end());
        }
      }
    } leave{this, &waiter};
    boost::system::error_code cancelled;
    auto woken = asio::redirect_error(asio::use_awaitable, cancelled);
    while (!waiter.granted) co_await waiter.wake.async_wait(woken);
    conn = std::move(waiter.conn);
    leave.waiter = nullptr;
  }
  // The slot is the lease's from here: every return below gives it back.
  Lease lease(this, std::move(conn));
  if (lease.conn_ && !lease.conn_->StillConnected()) lease.conn_.reset();
  if (!lease.conn_) {
    auto made = co_await PgConnection::Connect(executor_, conninfo_);
    if (!made.ok()) co_return made.status();
    lease.conn_ = std::move(*made);
  }
  co_return std::move(lease);
}

asio::awaitable<Status> PgPool::InTransaction(PgWork work) {
  auto lease = co_await Acquire();
  if (!lease.ok()) co_return lease.status();
  PgConnection& conn = **lease;
  Status done = co_await PgTransaction(conn, work);
  co_return done;
}

}  // namespace anthill::store
