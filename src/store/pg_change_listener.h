// Hears the changes other processes commit to the shared record in
// PostgreSQL, and publishes them to a ChangeFeed (change_feed.h), so that a
// deployment run by another orchestrator reaches this one's live UI too.
//
// The protocol: in the transaction of each write, PgRecordStore sends
// pg_notify('anthill_changes', payload), payload "deployment:<id>" when a
// deployment or one of its steps changed, "project:<name>" when a project's
// pins did. PostgreSQL delivers a notification at commit, to every session
// that LISTENs on the channel, the writer's own included.
//
// The listener holds a connection of its own (a LISTENing session cannot
// be lent to queries) and, between Start() and Stop(), waits on its socket
// and publishes each notification as a Change, in the order the server
// sent them. When the connection drops it connects again, after 100 ms,
// then twice as long each time up to 5 s, and LISTENs again. What was
// committed while it was away is not heard: a subscriber that must not miss
// a change re-reads the record when listens() grows.
//
// Thread: the io_context thread of its executor; the feed's callbacks run
// there. It must not outlive that io_context.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/change_feed.h"

namespace anthill::store {

// The channel PgRecordStore notifies on and PgChangeListener listens to.
inline constexpr char kPgChangesChannel[] = "anthill_changes";

// The change a payload names: "deployment:42" or "project:hello"; nullopt
// for anything else (a newer Anthill's words), which is ignored.
std::optional<Change> ParseChangePayload(std::string_view payload);

class PgChangeListener {
 public:
  // Will listen on `conninfo` (as PgConnection::Connect takes it) and
  // publish to `feed`, which must outlive the listener. Nothing happens
  // before Start().
  PgChangeListener(boost::asio::any_io_executor executor, std::string conninfo, ChangeFeed& feed);
  // Stops (see Stop).
  ~PgChangeListener();
  PgChangeListener(const PgChangeListener&) = delete;
  PgChangeListener& operator=(const PgChangeListener&) = delete;

  // Starts listening, in a coroutine of its own on the executor; returns at
  // once. Calling it again while started does nothing.
  void Start();
  // Ends listening: nothing is published after Stop returns. The coroutine
  // ends the next time the io_context runs it (a connection attempt under
  // way is first finished), and closes the connection then.
  void Stop();

  // True while LISTEN is in effect on a live connection: from then on,
  // every commit that notifies is heard.
  bool listening() const;
  // How many times LISTEN took effect: 1 after the first connection, one
  // more after each reconnect.
  int64_t listens() const;
  // Why the last connection attempt or connection failed; ok before any.
  Status last_error() const;

 private:
  // The listening loop (pg_listen_loop.h) publishes what it hears.
  struct State;

  std::shared_ptr<State> state_;  // shared with the running coroutine
};

}  // namespace anthill::store
