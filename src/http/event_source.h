// The source of a server-sent event stream (text/event-stream). The route
// makes one; the server sends the Response's body first, then whatever Next()
// yields each time the source calls Wake(), and a comment every 15 s so
// that proxies keep the connection and a client that left is noticed. The
// server drops the source when the client goes away or the server stops.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <utility>

namespace anthill::http {

class EventSource {
 public:
  virtual ~EventSource() = default;
  // The frames due now ("event: x\ndata: y\n\n"...), "" when none. A
  // coroutine, so that it may read the record. Changes may come (and Wake()
  // be called) while it is suspended: they are for the next call.
  virtual boost::asio::awaitable<std::string> Next() = 0;

  // Called by the server: `wake` makes it call Next() soon.
  void set_wake(std::function<void()> wake) { wake_ = std::move(wake); }

 protected:
  // Called by the source when it has something to send (cheap; may be
  // called many times before the server gets to Next()).
  void Wake() {
    if (wake_) wake_();
  }

 private:
  std::function<void()> wake_;
};

}  // namespace anthill::http
