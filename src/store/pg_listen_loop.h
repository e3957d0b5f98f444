// What PostgreSQL's listeners (PgChangeListener, PgJobListener) share: a
// connection of their own (a LISTENing session cannot be lent to queries),
// LISTEN on one channel, every notification on it handed on, and when the
// connection drops, connecting again after 100 ms, then twice as long each
// time up to 5 s, until stopped. Notifications sent while away are lost:
// each listener says what its users do about that.
//
// Thread: the io_context thread of the executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/pg_connection.h"

namespace anthill::store {

// A listener's connection and its life. A listener's own state derives
// from it and is shared with the loop, so that the loop may end after the
// listener is gone.
struct PgListenState {
  PgListenState(boost::asio::any_io_executor e, std::string info);
  virtual ~PgListenState() = default;

  // Ends the loop: nothing is handed on after it returns. The coroutine
  // ends the next time the io_context runs it (a connection attempt under
  // way is first finished) and closes the connection then.
  void Stop();

  boost::asio::any_io_executor executor;
  std::string conninfo;
  boost::asio::steady_timer retry;
  std::unique_ptr<PgConnection> conn;
  bool started = false;
  bool stopping = false;
  bool listening = false;  // LISTEN in effect on a live connection
  int64_t listens = 0;     // times LISTEN took effect
  Status last_error;       // of the last connection attempt or connection
};

// The loop, until s->stopping: `listened` is called each time LISTEN takes
// effect (s->listens already counts it), `heard` with each payload on
// `channel`, never once stopping.
boost::asio::awaitable<void> RunPgListenLoop(std::shared_ptr<PgListenState> s, std::string channel,
                                             std::function<void()> listened,
                                             std::function<void(std::string_view payload)> heard);

}  // namespace anthill::store
