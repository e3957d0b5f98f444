#include "supervise/health.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <istream>

#include "base/host_port.h"
#include "os/command.h"

namespace anthill::supervise {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Target {
  std::string host;
  std::string port;
  std::string path = "/";
};

// "http://host:port/path" or "host:port" (tcp). IPv6 hosts in brackets.
Result<Target> ParseTarget(std::string_view text, bool http) {
  Target t;
  std::string_view rest = text;
  if (http) {
    if (rest.substr(0, 7) != "http://")
      return Status::Error("not an http:// URL: " + std::string(text));
    rest.remove_prefix(7);
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      t.path = std::string(rest.substr(slash));
      rest = rest.substr(0, slash);
    }
  }
  auto split = SplitHostPort(rest);
  if (!split.ok()) return Status::InvalidArgument("bad address: " + std::string(text));
  t.host = split->host;
  if (!split->has_port) {
    if (!http) return Status::InvalidArgument("address needs a port: " + std::string(text));
    t.port = "80";
  } else {
    t.port = split->port;
  }
  return t;
}

// Closes the socket when the limit passes, so every pending operation on it
// completes with an error: a probe never hangs past its limit.
class Deadline {
 public:
  Deadline(asio::any_io_executor ex, tcp::socket& socket, Duration limit)
      : timer_(ex, limit), socket_(socket) {
    timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
      if (ec || !*alive) return;
      expired_ = true;
      boost::system::error_code ignored;
      socket_.close(ignored);
    });
  }
  ~Deadline() {
    *alive_ = false;
    timer_.cancel();
  }
  bool expired() const { return expired_; }

 private:
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  asio::steady_timer timer_;
  tcp::socket& socket_;
  bool expired_ = false;
};

asio::awaitable<Status> ProbeNetwork(const config::HealthCheck& check, Duration limit) {
  bool http = check.kind == config::HealthCheck::Kind::kHttp;
  auto target = ParseTarget(check.target, http);
  if (!target.ok()) co_return target.status();
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  boost::system::error_code ec;
  auto endpoints = co_await resolver.async_resolve(target->host, target->port,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  std::string what = http ? "GET " + check.target : "connect " + check.target;
  if (ec) co_return Status::Error(what + ": " + ec.message());
  tcp::socket socket(ex);
  Deadline deadline(ex, socket, limit);
  co_await asio::async_connect(socket, endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (deadline.expired())
    co_return Status::Error(what + ": no answer within " + FormatDuration(limit));
  if (ec) co_return Status::Error(what + ": " + ec.message());
  if (!http) co_return Status::Ok();

  std::string request = "GET " + target->path + " HTTP/1.1\r\nHost: " + target->host + ":" +
                        target->port +
                        "\r\nUser-Agent: anthill-health\r\nConnection: close\r\n\r\n";
  co_await asio::async_write(socket, asio::buffer(request),
                             asio::redirect_error(asio::use_awaitable, ec));
  asio::streambuf buf(64 * 1024);
  if (!ec) {
    co_await asio::async_read_until(socket, buf, "\r\n",
                                    asio::redirect_error(asio::use_awaitable, ec));
  }
  if (deadline.expired())
    co_return Status::Error(what + ": no answer within " + FormatDuration(limit));
  if (ec) co_return Status::Error(what + ": " + ec.message());
  std::istream in(&buf);
  std::string version;
  int code = 0;
  in >> version >> code;
  if (version.rfind("HTTP/", 0) != 0) co_return Status::Error(what + ": not an HTTP answer");
  if (code < 200 || code >= 400) co_return Status::Error(what + ": status " + std::to_string(code));
  co_return Status::Ok();
}

}  // namespace

asio::awaitable<Status> ProbeOnce(const config::HealthCheck& check, const HealthContext& ctx,
                                  Duration limit) {
  using Kind = config::HealthCheck::Kind;
  if (check.kind == Kind::kHttp || check.kind == Kind::kTcp) {
    co_return co_await ProbeNetwork(check, limit);
  }
  if (check.kind == Kind::kCommand) {
    os::SpawnOptions opts;
    opts.argv = {"/bin/sh", "-c", check.target};
    opts.cwd = ctx.cwd;
    opts.env = ctx.env;
    auto r = co_await os::RunCommand(opts, limit, Duration(1000));
    if (!r.ok()) co_return r.status();
    if (r->status.success() && !r->timed_out) co_return Status::Ok();
    co_return Status::Error("command '" + check.target + "': " + r->Describe());
  }
  co_return Status::Ok();
}

asio::awaitable<Status> WaitHealthy(Program& program, const config::HealthCheck& check,
                                    const HealthContext& ctx) {
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
  };
  auto exited_error = [&] {
    return Status::Error("exited during health check (" + program.exit_status().Describe() + ")");
  };
  if (check.kind == config::HealthCheck::Kind::kNone) {
    if (co_await program.WaitExit(check.grace)) co_return exited_error();
    co_return Status::Ok();
  }
  Status last = Status::Error("no probe ran");
  while (true) {
    if (program.exited()) co_return exited_error();
    Duration left = check.timeout - elapsed();
    if (left.count() <= 0) break;
    // A probe cut to a few ms by the deadline would only report its own
    // timeout; the last real answer says more.
    if (left < Duration(50) && last.message() != "no probe ran") break;
    Status probe =
        co_await ProbeOnce(check, ctx, std::min(std::max(left, Duration(50)), Duration(5000)));
    last = probe;
    if (last.ok()) {
      // A program that answers and dies at once is not healthy.
      if (program.exited()) co_return exited_error();
      co_return Status::Ok();
    }
    left = check.timeout - elapsed();
    if (left.count() <= 0) break;
    if (co_await program.WaitExit(std::min(left, check.interval))) co_return exited_error();
  }
  co_return Status::Error("health check failed after " + FormatDuration(elapsed()) + ": " +
                          last.message());
}

}  // namespace anthill::supervise
