// AsyncFetch: Beast's HTTP/1.1 over Asio on the caller's executor, as
// artifact_client.cc does it, with the whole exchange under one deadline:
// the tcp_stream's expiry, set once before connecting, bounds every
// operation after it (a long poll is answered within its wait, or never).
#include "http/json_client.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/strings.h"

namespace anthill::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr uint64_t kAnswerLimit = 64ULL << 20;

auto Redirect(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// A failure to reach the server or hear its answer: too slow (kTimedOut)
// or not there (kUnavailable: refused, reset, closed, no such host).
Status Unreached(const std::string& what, const boost::system::error_code& ec, Duration timeout) {
  if (ec == beast::error::timeout) {
    return Status::TimedOut(what + ": no answer within " + FormatDuration(timeout));
  }
  return Status::Unavailable(what + ": " + ec.message());
}

}  // namespace

asio::awaitable<Result<ClientResponse>> AsyncFetch(asio::any_io_executor executor,
                                                   std::string method, std::string base_url,
                                                   std::string target, std::string body,
                                                   std::string token, Duration timeout,
                                                   std::string source) {
  auto base = ParseBaseUrl(base_url);
  if (!base.ok()) co_return base.status();
  const bhttp::verb verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown) {
    co_return Status::InvalidArgument("unknown HTTP method '" + method + "'");
  }
  const std::string where = method + " " + base->url + target;

  boost::system::error_code ec;
  tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(base->host, base->port, Redirect(ec));
  if (ec) co_return Status::Unavailable("cannot reach " + base->url + ": " + ec.message());
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  if (source.empty()) {
    co_await stream.async_connect(endpoints, Redirect(ec));
  } else {
    const auto from = asio::ip::make_address(source, ec);
    if (ec) co_return Status::InvalidArgument("bad source address '" + source + "'");
    // The first address of the source's family: an IPv4 source cannot
    // reach a name's IPv6 address, which resolvers often list first.
    auto same_family = std::find_if(endpoints.begin(), endpoints.end(), [&](const auto& e) {
      return e.endpoint().address().is_v4() == from.is_v4();
    });
    if (same_family == endpoints.end()) {
      co_return Status::Unavailable("cannot reach " + base->url + " from " + source +
                                    ": no address of its family");
    }
    const tcp::endpoint to = same_family->endpoint();
    stream.socket().open(to.protocol(), ec);
    if (!ec) stream.socket().bind(tcp::endpoint(from, 0), ec);
    if (ec) co_return Status::Unavailable("cannot connect from " + source + ": " + ec.message());
    co_await stream.async_connect(to, Redirect(ec));
  }
  if (ec) co_return Unreached("cannot reach " + base->url, ec, timeout);

  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, base->host_header);
  req.set(bhttp::field::user_agent, "anthill-agent");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  // The API takes calls that change something only as JSON, even bodiless
  // ones (request_guard.h: other sites' pages cannot send it).
  if (verb != bhttp::verb::get && verb != bhttp::verb::head) {
    req.set(bhttp::field::content_type, "application/json");
  }
  req.body() = std::move(body);
  req.prepare_payload();
  boost::system::error_code write_ec;
  co_await bhttp::async_write(stream, req, Redirect(write_ec));
  // A server may answer before reading the whole body (413): read its
  // answer even when the write failed.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kAnswerLimit);
  co_await bhttp::async_read(stream, buffer, parser, Redirect(ec));
  if (ec && write_ec) co_return Unreached("cannot talk to " + base->url, write_ec, timeout);
  if (ec) co_return Unreached("no answer to " + where, ec, timeout);
  auto& res = parser.get();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = std::move(res.body());
  for (const auto& field : res) {
    out.headers[AsciiLower(std::string(field.name_string()))] = std::string(field.value());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  co_return out;
}

}  // namespace anthill::http
