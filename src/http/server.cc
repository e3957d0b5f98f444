// The HTTP server on Boost.Beast: one coroutine per connection on the
// io_context thread, requests handed to the Handler as plain structs.
#include "http/server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <set>

#include "http/url.h"

namespace anthill::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr size_t kBodyLimit = 1024 * 1024;  // webhooks and API calls are small
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kStreamKeepalive = std::chrono::seconds(15);

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

}  // namespace

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

struct Server::Impl {
  asio::io_context& io;
  Handler handler;
  tcp::acceptor acceptor;
  std::set<std::shared_ptr<beast::tcp_stream>> connections;
  std::set<std::shared_ptr<asio::steady_timer>> stream_timers;  // cancelled by Stop()
  bool stopped = false;

  Impl(asio::io_context& io_, Handler h) : io(io_), handler(std::move(h)), acceptor(io_) {}

  asio::awaitable<void> Accept() {
    while (!stopped) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      connections.insert(stream);
      asio::co_spawn(io, Serve(stream), asio::detached);
    }
  }

  asio::awaitable<void> Serve(std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (!stopped) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(kBodyLimit);
      stream->expires_after(kIdleTimeout);
      co_await bhttp::async_read(*stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::body_limit) {
        Response r{413, "application/json", "{\"error\":\"request body over 1 MiB\"}\n", {}};
        co_await Write(*stream, r, false, ec);
        // Closing with the rest of the body unread would reset the
        // connection and could destroy the 413 before the client reads it:
        // stop sending, then drain what the client still sends, briefly.
        stream->socket().shutdown(tcp::socket::shutdown_send, ec);
        stream->expires_after(std::chrono::seconds(2));
        std::array<char, 16384> sink;
        for (size_t drained = 0; !ec && drained < 8 * kBodyLimit;) {
          drained += co_await stream->async_read_some(asio::buffer(sink),
                                                      asio::redirect_error(asio::use_awaitable, ec));
        }
        break;
      }
      if (ec) break;  // closed, timed out or malformed: nothing to answer
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      SplitTarget(req.target, &req.path, &req.query);
      for (const auto& field : msg) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers[name] = std::string(field.value());
      }
      req.body = std::move(msg.body());
      Response res;
      try {
        res = handler(req);
      } catch (const std::exception& e) {
        res = Response{500, "application/json", "{\"error\":\"internal error\"}\n", {}};
      }
      if (res.events) {
        co_await Stream(*stream, res, ec);
        break;
      }
      bool keep_alive = msg.keep_alive();
      co_await Write(*stream, res, keep_alive, ec);
      if (ec || !keep_alive) break;
    }
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->close();
    connections.erase(stream);
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
      frames = r.events->Next();
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

Server::Server(asio::io_context& io, Handler handler)
    : impl_(std::make_unique<Impl>(io, std::move(handler))) {}

Server::~Server() { Stop(); }

Status Server::Listen(const std::string& host_port) {
  std::string host, port;
  if (!SplitHostPort(host_port, &host, &port)) {
    return Status::Error("cannot listen on '" + host_port + "': not host:port");
  }
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(host, port, tcp::resolver::passive, ec);
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
  for (auto& c : impl_->connections) c->socket().close(ec);
  for (auto& t : impl_->stream_timers) t->cancel();
}

}  // namespace anthill::http
