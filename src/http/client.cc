#include "http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>

#include "base/host_port.h"
#include "base/strings.h"

namespace anthill::http {

namespace {

// The kind of a failure to reach the daemon or hear its answer: the time
// limit passed, or it is not there (refused, reset, closed).
StatusCode Unreached(const boost::system::error_code& ec) {
  return ec == boost::beast::error::timeout ? StatusCode::kTimedOut : StatusCode::kUnavailable;
}

}  // namespace

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

Result<ClientResponse> Fetch(const std::string& method, const std::string& host_port,
                             const std::string& target, const std::string& body,
                             const std::string& token,
                             const std::vector<std::pair<std::string, std::string>>& headers) {
  auto hp = SplitHostPort(host_port);
  if (!hp.ok() || hp->host.empty() || hp->port.empty()) {
    return Status::InvalidArgument("bad address '" + host_port + "' (want host:port)");
  }
  std::string host = hp->host;
  const std::string& port = hp->port;
  // A daemon listening on every address is reached on loopback.
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  const std::string where = "anthill at " + host_port;

  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return Status::Unavailable("cannot reach " + where + ": " + ec.message());
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(endpoints, ec);
  if (ec) {
    return Status::Error(Unreached(ec), "cannot reach " + where + ": " + ec.message() +
                                            " (is `anthill serve` running?)");
  }
  bhttp::verb verb = bhttp::string_to_verb(method);
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  // The address reached, as the Host: a name in [server] listen need not be
  // one the daemon answers to (see http/request_guard.h); its address is.
  tcp::endpoint peer = stream.socket().remote_endpoint(ec);
  std::string host_header = host_port;
  if (!ec) {
    const std::string ip = peer.address().to_string();
    host_header =
        (peer.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(peer.port());
  }
  req.set(bhttp::field::host, host_header);
  req.set(bhttp::field::user_agent, "anthill-cli");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
  // The daemon takes calls that change something only as JSON, even bodiless
  // ones (a cancel): the guard against other sites' pages posting text.
  if (!body.empty() || (verb != bhttp::verb::get && verb != bhttp::verb::head)) {
    req.set(bhttp::field::content_type, "application/json");
  }
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  req.prepare_payload();
  // Streaming endpoints may take long; an API answer is quick.
  stream.expires_after(std::chrono::seconds(60));
  boost::system::error_code write_ec;
  bhttp::write(stream, req, write_ec);
  // A server may answer before reading the whole body (413): read its answer
  // even when the write failed.
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bhttp::read(stream, buffer, parser, ec);
  if (ec && write_ec) {
    return Status::Error(Unreached(write_ec),
                         "cannot talk to " + where + ": " + write_ec.message());
  }
  if (ec) return Status::Error(Unreached(ec), "no answer from " + where + ": " + ec.message());
  auto& res = parser.get();
  ClientResponse out;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = std::move(res.body());
  for (const auto& field : res) {
    std::string name = AsciiLower(std::string(field.name_string()));
    out.headers[name] = std::string(field.value());
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace anthill::http
