// The HTTP server on Boost.Beast: one coroutine per connection on the
// io_context thread, requests handed to the Handler as plain structs and its
// answer awaited there, so a handler waiting on the record holds up only its
// own connection.
#include "http/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <set>

#include "base/host_port.h"
#include "base/strings.h"
#include "http/reply.h"
#include "http/url.h"

namespace anthill::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kStreamKeepalive = std::chrono::seconds(15);
// After accept() fails for want of descriptors (or memory) the listening
// socket stays readable: retrying at once would spin a core. The pause lets
// connections close and give their descriptors back.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// A refused request's unread rest is drained this long, at most this much,
// so that closing does not reset the connection before the answer is read.
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr size_t kDrainBytes = 8 << 20;

// What every answer carries: its status, Server, Content-Type and the route's
// own headers.
template <class Body>
bhttp::response<Body> Head(const Response& r) {
  bhttp::response<Body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::server, "anthill");
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  return res;
}

std::string Size(size_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// The answer to a request that could not be read, or none when there is
// nobody to answer (the client left, timed out, or the server stops).
std::optional<Response> RefusalFor(const boost::system::error_code& ec,
                                   const ServerLimits& limits) {
  static const auto& kHttp = bhttp::make_error_code(bhttp::error::bad_method).category();
  if (ec.category() != kHttp) return std::nullopt;
  switch (static_cast<bhttp::error>(ec.value())) {
    case bhttp::error::end_of_stream:
    case bhttp::error::partial_message:
    case bhttp::error::need_more:
    case bhttp::error::need_buffer:
    case bhttp::error::short_read:
      return std::nullopt;
    case bhttp::error::body_limit:
      return ErrorResponse(413, "request body over " + Size(limits.body_limit));
    case bhttp::error::header_limit:
    case bhttp::error::buffer_overflow:
      return ErrorResponse(431, "request headers over " + Size(limits.header_limit));
    default:
      return ErrorResponse(400, "malformed request: " + ec.message());
  }
}

size_t DefaultMaxConnections() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1000;
  return std::clamp<size_t>(rl.rlim_cur / 2, 1, 1000);
}

}  // namespace

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

struct Server::Impl {
  asio::io_context& io;
  Handler handler;
  ServerLimits limits;
  tcp::acceptor acceptor;
  asio::steady_timer accept_backoff;
  std::set<std::shared_ptr<beast::tcp_stream>> connections;
  std::set<std::shared_ptr<asio::steady_timer>> stream_timers;  // cancelled by Stop()
  bool stopped = false;
  // Written on the io thread, read by tests from theirs.
  std::atomic<size_t> open_connections{0};
  std::atomic<size_t> body_bytes{0};
  std::atomic<uint64_t> accept_failures{0};

  Impl(asio::io_context& io_, Handler h, ServerLimits l)
      : io(io_), handler(std::move(h)), limits(l), acceptor(io_), accept_backoff(io_) {
    if (limits.max_connections == 0) limits.max_connections = DefaultMaxConnections();
  }

  // Bytes of body_budget a request holds while it is read and handled.
  class BodyReservation {
   public:
    explicit BodyReservation(Impl* impl) : impl_(impl) {}
    ~BodyReservation() { impl_->body_bytes -= bytes_; }
    BodyReservation(const BodyReservation&) = delete;
    BodyReservation& operator=(const BodyReservation&) = delete;
    // False, taking nothing, when the budget has not that much left.
    bool Take(size_t bytes) {
      if (bytes > impl_->limits.body_budget - impl_->body_bytes) return false;
      impl_->body_bytes += bytes;
      bytes_ += bytes;
      return true;
    }

   private:
    Impl* impl_;
    size_t bytes_ = 0;
  };

  asio::awaitable<void> Accept() {
    bool pausing = false;
    while (!stopped) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped || ec == asio::error::operation_aborted) co_return;
      if (ec == asio::error::connection_aborted) continue;  // the client gave up: nothing to see
      if (ec) {  // EMFILE, ENFILE, ENOBUFS, ENOMEM: pause (see kAcceptBackoff)
        ++accept_failures;
        if (!pausing) {
          spdlog::warn("http: cannot accept connections: {} ({} open); retrying every {} ms",
                       ec.message(), connections.size(), kAcceptBackoff.count());
        }
        pausing = true;
        accept_backoff.expires_after(kAcceptBackoff);
        co_await accept_backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (pausing) {
        spdlog::info("http: accepting connections again ({} open)", connections.size());
        pausing = false;
      }
      if (connections.size() >= limits.max_connections) {
        Turn(socket);
        continue;
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      connections.insert(stream);
      open_connections = connections.size();
      asio::co_spawn(io, Serve(stream), asio::detached);
    }
  }

  // A connection over max_connections: a 503 in one non-blocking write (a
  // new socket's send buffer is empty) and closed, with nothing read and
  // nothing kept. The client may see the reset instead of the 503.
  void Turn(tcp::socket& socket) {
    static const std::string kBusy = [] {
      const std::string body = ErrorResponse(503, "too many connections; try again shortly").body;
      return "HTTP/1.1 503 Service Unavailable\r\nServer: anthill\r\nContent-Type: "
             "application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(kBusy), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  asio::awaitable<void> Serve(std::shared_ptr<beast::tcp_stream> stream) {
    // Bounded: the parser takes the body out of it as it comes, so only
    // headers (header_limit) and a little read-ahead ever sit here.
    beast::flat_buffer buffer(limits.header_limit + 16 * 1024);
    boost::system::error_code ec;
    while (!stopped) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
      parser.body_limit(limits.body_limit);
      stream->expires_after(kIdleTimeout);
      co_await bhttp::async_read_header(*stream, buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        const std::optional<Response> refusal = RefusalFor(ec, limits);
        if (refusal) co_await Refuse(*stream, *refusal);
        break;
      }
      // The body is read into memory (Beast reserves Content-Length at once)
      // only once it fits the budget of all connections.
      BodyReservation reservation(this);
      if (!parser.is_done()) {
        const auto length = parser.content_length();
        const size_t wanted = length ? static_cast<size_t>(*length) : limits.body_limit;
        if (length && *length > limits.body_limit) {
          const Response too_large = *RefusalFor(bhttp::error::body_limit, limits);
          co_await Refuse(*stream, too_large);
          break;
        }
        if (!reservation.Take(wanted)) {
          Response busy = ErrorResponse(503, "too many requests in flight; try again shortly");
          busy.headers.push_back({"Retry-After", "1"});
          co_await Refuse(*stream, busy);
          break;
        }
        co_await bhttp::async_read(*stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          const std::optional<Response> refusal = RefusalFor(ec, limits);
          if (refusal) co_await Refuse(*stream, *refusal);
          break;
        }
      }
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      SplitTarget(req.target, &req.path, &req.query);
      for (const auto& field : msg) {
        std::string name = AsciiLower(std::string(field.name_string()));
        req.headers[name] = std::string(field.value());
      }
      req.body = std::move(msg.body());
      const bool keep_alive = msg.keep_alive();
      Response res;
      try {
        // Made before the co_await, not inside it: GCC 12 mishandles
        // temporaries in a co_await expression (the Request argument here).
        asio::awaitable<Response> reply = handler(std::move(req));
        res = co_await std::move(reply);
      } catch (const std::exception& e) {
        res = ErrorResponse(500, "internal error");
      }
      if (res.events) {
        co_await Stream(*stream, res, ec);
        break;
      }
      co_await Write(*stream, res, keep_alive, ec);
      if (ec || !keep_alive) break;
    }
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->close();
    connections.erase(stream);
    open_connections = connections.size();
  }

  // Answers a request that will not be served, then closes. Closing with
  // the rest of the request unread would reset the connection and could
  // destroy the answer before the client reads it: stop sending, then drain
  // what the client still sends, briefly.
  asio::awaitable<void> Refuse(beast::tcp_stream& stream, const Response& r) {
    boost::system::error_code ec;
    co_await Write(stream, r, false, ec);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(kDrainTime);
    std::array<char, 16384> sink;
    for (size_t drained = 0; !ec && !stopped && drained < kDrainBytes;) {
      drained += co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // A text/event-stream response: headers without a length (the body ends
  // when the connection does), then the source's frames as they come.
  asio::awaitable<void> Stream(beast::tcp_stream& stream, const Response& r,
                               boost::system::error_code& ec) {
    auto head = Head<bhttp::empty_body>(r);
    head.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(kIdleTimeout);
    co_await bhttp::async_write_header(stream, serializer,
                                       asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    stream.expires_never();  // a stream is idle by nature; writes notice a client that left

    auto timer = std::make_shared<asio::steady_timer>(io);
    auto woken = std::make_shared<bool>(false);
    stream_timers.insert(timer);
    // The source may outlive this loop (the route keeps it until it is
    // dropped below), so the wake callback holds the timer, not the frame.
    r.events->set_wake([timer, woken] {
      *woken = true;
      timer->cancel();
    });
    std::string frames = r.body;
    while (!stopped) {
      if (!frames.empty()) {
        stream.expires_after(kIdleTimeout);  // a client that stops reading is dropped
        co_await asio::async_write(stream, asio::buffer(frames),
                                   asio::redirect_error(asio::use_awaitable, ec));
        stream.expires_never();
        if (ec) break;
      }
      bool keepalive_due = false;
      if (!*woken) {
        timer->expires_after(kStreamKeepalive);
        boost::system::error_code wait_ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
        keepalive_due = !wait_ec;
      }
      if (stopped) break;
      *woken = false;
      frames = co_await r.events->Next();
      if (frames.empty() && keepalive_due) frames = ": keepalive\n\n";
    }
    r.events->set_wake(nullptr);
    stream_timers.erase(timer);
  }

  static asio::awaitable<void> Write(beast::tcp_stream& stream, const Response& r, bool keep_alive,
                                     boost::system::error_code& ec) {
    auto res = Head<bhttp::string_body>(r);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  }
};

Server::Server(asio::io_context& io, Handler handler, ServerLimits limits)
    : impl_(std::make_unique<Impl>(io, std::move(handler), limits)) {}

Server::~Server() { Stop(); }

Status Server::Listen(const std::string& host_port) {
  auto hp = SplitHostPort(host_port);
  if (!hp.ok() || hp->host.empty() || hp->port.empty()) {
    return Status::InvalidArgument("cannot listen on '" + host_port + "': not host:port");
  }
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(hp->host, hp->port, tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return Status::Error("cannot listen on " + host_port + ": " + ec.message());
  }
  tcp::endpoint ep = endpoints.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    a.close();
    return Status::Error("cannot listen on " + host_port + ": " + ec.message());
  }
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  return Status::Ok();
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_backoff.cancel();
  for (auto& c : impl_->connections) c->socket().close(ec);
  for (auto& t : impl_->stream_timers) t->cancel();
}

size_t Server::connections() const { return impl_->open_connections; }
size_t Server::body_bytes_held() const { return impl_->body_bytes; }
uint64_t Server::accept_failures() const { return impl_->accept_failures; }
size_t Server::max_connections() const { return impl_->limits.max_connections; }

}  // namespace anthill::http
