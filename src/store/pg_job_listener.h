// PgJobListener: the queue's notifications (pg_build_queue.h) heard on a
// connection of its own.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "base/time.h"
#include "store/pg_build_queue.h"

namespace anthill::store {

// Wakes builders and orchestrators when the queue changes, from the
// notifications on kPgJobsChannel, on a connection of its own (a LISTENing
// session cannot be lent to queries). Between Start() and Stop() it waits
// on its socket; when the connection drops it connects again after 100 ms,
// then twice as long each time up to 5 s, as PgChangeListener does.
//
// Notifications are hints, not a log: one sent while the listener was away
// is never heard. So every wait has a time limit the caller picks (a few
// seconds: the longest a missed hint can delay it), and a caller acts on
// the database after each wait, whatever woke it:
//   builder:      loop { Claim; if none: co_await WaitForWork(5 s); }
//   orchestrator: loop { Get; if finished: break; co_await WaitDone(id, 5 s); }
//
// Thread: the io_context thread of its executor. It must not outlive that
// io_context.
class PgJobListener {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  // Will listen on `conninfo`; nothing happens before Start().
  PgJobListener(boost::asio::any_io_executor executor, std::string conninfo);
  // Stops (see Stop).
  ~PgJobListener();
  PgJobListener(const PgJobListener&) = delete;
  PgJobListener& operator=(const PgJobListener&) = delete;

  // Starts listening, in a coroutine of its own; returns at once. Calling it
  // again while started does nothing.
  void Start();
  // Ends listening and wakes every waiter (they return false). The
  // coroutine ends the next time the io_context runs it.
  void Stop();

  // Returns true when a job was queued (or the listener connected again,
  // and may have missed one) since the previous call returned, or while it
  // waits; false when `max_wait` passed first. A "queued" heard while no
  // one waits is kept for the next call, so a job queued between a Claim
  // that found nothing and this call is not slept through. Every waiter at
  // the time is woken.
  Awaitable<bool> WaitForWork(Duration max_wait);
  // Returns true when job `job_id` finished or was cancelled (or the
  // listener connected again and may have missed it), false when
  // `max_wait` passed first. The last 1024 jobs heard finishing are
  // remembered, so an end heard just before the call returns at once.
  Awaitable<bool> WaitDone(int64_t job_id, Duration max_wait);

  // True while LISTEN is in effect on a live connection.
  bool listening() const;
  // How many times LISTEN took effect (1, then one more per reconnect).
  int64_t listens() const;
  // Why the last connection attempt or connection failed; ok before any.
  Status last_error() const;

 private:
  // Shared with the listening loop (pg_listen_loop.h) and the waits.
  struct State;
  // Waits for job `job`'s end (0: for work) until woken or `max_wait`.
  static boost::asio::awaitable<bool> Wait(std::shared_ptr<State> s, int64_t job,
                                           Duration max_wait);

  std::shared_ptr<State> state_;  // shared with the running coroutine and the waits
};
}  // namespace anthill::store
