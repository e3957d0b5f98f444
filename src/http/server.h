// Anthill's HTTP server (Boost.Beast lives in http/ only). Requests are
// handed to one synchronous handler on the io_context thread, as plain structs,
// so routes and their tests never see Beast.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace anthill::http {

struct Request {
  std::string method;                          // "GET"
  std::string target;                          // "/api/v1/deployments?limit=5"
  std::string path;                            // "/api/v1/deployments" (percent-decoded)
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

// The source of a server-sent event stream (text/event-stream). The route
// makes one; the server sends the Response's body first, then whatever Next()
// returns each time the source calls Wake(), and a comment every 15 s so
// that proxies keep the connection and a client that left is noticed. The
// server drops the source when the client goes away or the server stops.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // The frames due now ("event: x\ndata: y\n\n"...), "" when none.
  virtual std::string Next() = 0;

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

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::shared_ptr<EventSource> events;  // set: a stream that stays open (body sent first)
};

using Handler = std::function<Response(const Request&)>;

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
