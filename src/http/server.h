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
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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
  // A body the handler streams to disk (BodyStream): an artifact upload.
  // Over it: 413. It takes nothing of body_budget (it is never in memory).
  uint64_t upload_limit = uint64_t{8} << 30;
  // Connections open at once; one over it is answered 503 and closed at
  // once. 0: the soft RLIMIT_NOFILE less 1024 (half of it when it is 2048
  // or less), so the builds, logs and programs keep descriptors of their
  // own. An orchestrator holds one per agent's long poll: `anthill` raises
  // its soft limit to the hard one at start (os::RaiseOpenFileLimit).
  size_t max_connections = 0;
};

// Requests whose body the server does not read before the handler runs:
// PUT under this prefix (artifact uploads, up to hundreds of MB). The
// handler gets Request::body_stream instead of Request::body, so it can
// refuse (a wrong token, a bad key) before a byte of the body is taken, and
// streams the body into a file of its choosing.
inline constexpr std::string_view kStreamedPutPrefix = "/api/v1/artifacts/";

// The unread body of a request under kStreamedPutPrefix. Valid while the
// handler runs (the server holds the connection); afterwards SaveTo fails.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Writes the body into `file`, a new file (it must not exist), at most
  // ServerLimits::upload_limit bytes, answering "Expect: 100-continue"
  // first. Returns the bytes written. On failure `file` is removed, and the
  // server answers the request itself (413 over the limit, 400 malformed,
  // 507/500 when the file cannot be written, nothing when the client left)
  // and closes the connection, whatever the handler returns. A handler that
  // never calls it has its answer sent, then the connection closed.
  // REQUIRES: called at most once.
  virtual boost::asio::awaitable<Result<int64_t>> SaveTo(std::filesystem::path file) = 0;
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
