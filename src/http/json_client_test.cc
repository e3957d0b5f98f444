// AsyncFetch against real sockets on loopback: Anthill's own server (what an
// agent talks to), a port nobody listens on, a peer that accepts and never
// answers, and one that hangs up. Client and servers share the test's loop.
#include "http/json_client.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <optional>

#include "http/server.h"
#include "testing/testing.h"

namespace anthill::http {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

boost::asio::awaitable<Response> Ready(Response r) { co_return r; }

class JsonClientTest : public ::testing::Test {
 protected:
  // Runs AsyncFetch on the test's loop (which also runs the servers) to its end.
  Result<ClientResponse> Fetch(const std::string& method, const std::string& base_url,
                               const std::string& target, const std::string& body = "",
                               const std::string& token = "", Duration timeout = Duration(5000),
                               const std::string& source = "") {
    std::optional<Result<ClientResponse>> got;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          asio::awaitable<Result<ClientResponse>> fetching = AsyncFetch(
              io_.get_executor(), method, base_url, target, body, token, timeout, source);
          got.emplace(co_await std::move(fetching));
        },
        asio::detached);
    io_.restart();
    while (!got) io_.run_one_for(std::chrono::milliseconds(100));
    return std::move(*got);
  }
  // A listener on loopback that takes connections and does `with` each one.
  uint16_t RawPeer(std::function<void(tcp::socket&)> with) {
    acceptor_.emplace(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acceptor_->async_accept(peer_, [this, with](boost::system::error_code ec) {
      if (!ec) with(peer_);
    });
    return acceptor_->local_endpoint().port();
  }

  asio::io_context io_;
  std::optional<tcp::acceptor> acceptor_;
  tcp::socket peer_{io_};
};

TEST_F(JsonClientTest, SendsTheTokenAndJsonBodyAndReadsTheAnswer) {
  std::vector<Request> seen;
  Server server(io_, [&](Request r) {
    seen.push_back(r);
    return Ready(Response{r.method == "POST" ? 201 : 200,
                          "application/json",
                          "{\"echo\":\"" + r.body + "\"}",
                          {{"X-Said", "hello"}}});
  });
  ASSERT_TRUE(server.Listen("127.0.0.1:0").ok());
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());

  auto got =
      Fetch("GET", url + "/", "/api/v1/agents/web-1/desired?generation=3&wait=30s", "", "t0ken");
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->content_type, "application/json");
  EXPECT_EQ(got->body, "{\"echo\":\"\"}");
  EXPECT_EQ(got->headers["x-said"], "hello");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].path, "/api/v1/agents/web-1/desired");
  EXPECT_EQ(seen[0].query["generation"], "3");
  EXPECT_EQ(seen[0].query["wait"], "30s");
  EXPECT_EQ(seen[0].Header("authorization"), "Bearer t0ken");
  EXPECT_EQ(seen[0].Header("content-type"), "");

  got = Fetch("POST", url, "/api/v1/agents/web-1/reports", "{\"id\":\"r1\"}", "t0ken");
  ASSERT_TRUE(got.ok()) << got.error();
  EXPECT_EQ(got->status, 201);
  EXPECT_EQ(got->body, "{\"echo\":\"{\"id\":\"r1\"}\"}");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].Header("content-type"), "application/json");
  EXPECT_EQ(seen[1].body, "{\"id\":\"r1\"}");
  server.Stop();
}

// A simulator of many machines on one host connects each from its own
// loopback address; a source that is no address, or not this host's, is
// an error that says so.
TEST_F(JsonClientTest, ConnectsFromTheSourceAddressItIsGiven) {
  std::optional<tcp::endpoint> remote;
  const uint16_t port = RawPeer([&](tcp::socket& s) {
    remote = s.remote_endpoint();
    static const std::string kAnswer =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}";
    boost::system::error_code ec;
    asio::write(s, asio::buffer(kAnswer), ec);
  });
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto got = Fetch("GET", url, "/", "", "", Duration(5000), "127.0.0.7");
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_TRUE(remote.has_value());
  EXPECT_EQ(remote->address().to_string(), "127.0.0.7");

  auto bad = Fetch("GET", url, "/", "", "", Duration(5000), "not-an-address");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.error(), "bad source address 'not-an-address'");
  // An IPv4 source reaches only a name's IPv4 addresses; a name with none
  // is an error that says so, not a socket of one family bound to the other.
  auto v6 = Fetch("GET", "http://[::1]:" + std::to_string(port), "/", "", "", Duration(5000),
                  "127.0.0.7");
  EXPECT_EQ(v6.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(v6.error(), "cannot reach http://[::1]:" + std::to_string(port) +
                            " from 127.0.0.7: no address of its family");
  // TEST-NET-1 (RFC 5737): no interface of this host has it.
  auto foreign = Fetch("GET", url, "/", "", "", Duration(5000), "192.0.2.1");
  EXPECT_EQ(foreign.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(foreign.error().rfind("cannot connect from 192.0.2.1: ", 0), 0u) << foreign.error();
}

TEST_F(JsonClientTest, NobodyListeningIsUnavailable) {
  const std::string url = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  auto got = Fetch("GET", url, "/x");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), StatusCode::kUnavailable);
  EXPECT_EQ(got.error(), "cannot reach " + url + ": Connection refused");
}

TEST_F(JsonClientTest, AnAnswerThatNeverComesTimesOut) {
  const uint16_t port = RawPeer([](tcp::socket&) {});  // accepts, then says nothing
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto got = Fetch("GET", url, "/slow", "", "", Duration(300));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), StatusCode::kTimedOut);
  EXPECT_EQ(got.error(), "no answer to GET " + url + "/slow: no answer within 300 ms");
}

TEST_F(JsonClientTest, APeerThatHangsUpIsUnavailable) {
  const uint16_t port = RawPeer([](tcp::socket& s) { s.close(); });
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto got = Fetch("POST", url, "/r", "{}");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.code(), StatusCode::kUnavailable) << got.error();
  EXPECT_EQ(got.error().rfind("no answer to POST " + url + "/r: ", 0), 0u) << got.error();
}

}  // namespace
}  // namespace anthill::http
