// Anthill's HTTP server (Boost.Beast lives in http/ only). Requests are
// handed to one handler on the io_context thread, as plain structs, so routes
// and their tests never see Beast. The handler is a coroutine: a route that
// reads the record across a network suspends while its query is on the wire,
// and the loop keeps serving every other connection meanwhile.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "http/event_source.h"
#include "http/message.h"

namespace anthill::http {

// Answers one request. The Request is taken by value: the coroutine keeps
// its own copy in its frame, so nothing of the caller's must outlive a
// suspension. Exceptions it lets out become a 500.
using Handler = std::function<boost::asio::awaitable<Response>(Request)>;

// What one server lets strangers make it hold (issue 12). Requests over a
// bound are answered with their status, then the connection is closed:
// malformed 400, body over body_limit 413, headers over header_limit 431,
// bodies of all connections over body_budget 503 with Retry-After.
struct ServerLimits {
  size_t body_limit = 1 << 20;      // one request's body (webhooks and API calls are small)
  size_t body_budget = 32 << 20;    // bytes of request bodies held at once, all connections
  size_t header_limit = 32 * 1024;  // request line and headers (localhost cookies add up)
  // Connections open at once; one over it is answered 503 and closed at
  // once. 0: min(1000, half the soft RLIMIT_NOFILE), so the builds, logs and
  // programs keep the rest of the descriptors.
  size_t max_connections = 0;
};

class Server {
 public:
  Server(boost::asio::io_context& io, Handler handler, ServerLimits limits = {});
  ~Server();
  // Binds "host:port" ("127.0.0.1:7070", "[::1]:0", port 0 = any) and starts
  // accepting. Errors name the address.
  Status Listen(const std::string& host_port);
  uint16_t port() const;
  // Stops accepting and closes open connections.
  void Stop();

  // For tests and metrics; safe to read from any thread.
  size_t connections() const;        // open now
  size_t body_bytes_held() const;    // of body_budget, taken by requests being read or handled
  uint64_t accept_failures() const;  // accept() errors (EMFILE...), each followed by a pause
  size_t max_connections() const;    // the bound in force

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anthill::http
