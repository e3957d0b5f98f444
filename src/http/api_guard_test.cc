// The request guard in front of the API (Issue 12): pages of other sites
// cannot act, and only our own Host names are answered.

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "http/api_fixture_test.h"
#include "http/url.h"

namespace anthill::http {
namespace {

using nlohmann::json;

// Issue 12: with no token set, any web page the user opened could stop a
// program by posting text/plain to 127.0.0.1:7070 (no preflight needed).
TEST_F(ApiTest, Issue12PagesOfOtherSitesCannotAct) {
  const std::string stop = "/api/v1/projects/hello/stop";
  using Headers = std::map<std::string, std::string>;
  const Headers json_type = {{"content-type", "application/json"}};
  auto with = [&](Headers more) {
    more.insert(json_type.begin(), json_type.end());
    return more;
  };
  struct Case {
    std::string method, target;
    Headers headers;
    int status;
    std::string error;
  } cases[] = {
      {"POST",
       stop,
       {{"content-type", "text/plain"}},
       415,
       "POST /api/v1/projects/hello/stop needs Content-Type: application/json (even with an "
       "empty body)"},
      {"POST", stop, {{"content-type", "application/x-www-form-urlencoded"}}, 415, ""},
      {"DELETE", "/api/v1/deployments/1", {{"content-type", "text/plain"}}, 415, ""},
      {"POST", stop, with({{"sec-fetch-site", "cross-site"}}), 403,
       "refused a cross-site request: the API acts only for its own pages, the CLI and tokens"},
      {"POST", stop, with({{"sec-fetch-site", "same-site"}}), 403, ""},
      {"POST", stop, with({{"origin", "http://evil.example"}}), 403,
       "refused a request from the page of another origin (http://evil.example): the API acts "
       "only for its own pages, the CLI and tokens"},
      {"POST", stop, with({{"origin", "null"}}), 403, ""},
      {"POST", stop, with({{"origin", "http://127.0.0.1:8080"}}), 403, ""},
      // Our own page, and the CLI (no Origin), may.
      {"POST", stop, with({{"origin", "http://127.0.0.1:7070"}, {"sec-fetch-site", "same-origin"}}),
       202, ""},
      {"POST", stop, json_type, 202, ""},
      {"POST", stop, {{"content-type", "application/json; charset=utf-8"}}, 202, ""},
      // Reading is not acting (and browsers do not let other sites read).
      {"GET", "/api/v1/projects", {{"sec-fetch-site", "cross-site"}}, 200, ""},
      // Forges post from anywhere with whatever type: the signature decides.
      {"POST",
       "/hooks/github",
       {{"content-type", "text/plain"},
        {"sec-fetch-site", "cross-site"},
        {"x-github-event", "push"}},
       401,
       ""},
  };
  for (const auto& c : cases) {
    Request r;
    r.method = c.method;
    r.target = c.target;
    r.headers = c.headers;
    r.headers["host"] = "127.0.0.1:7070";
    SplitTarget(c.target, &r.path, &r.query);
    Response got = Answer(api_, r);
    EXPECT_EQ(got.status, c.status) << c.method << " " << c.target << " " << got.body;
    if (!c.error.empty()) {
      EXPECT_EQ(json::parse(got.body)["error"], c.error);
    }
  }
  EXPECT_EQ(projects_.calls,
            (std::vector<std::string>{"stop hello api", "stop hello api", "stop hello api"}));
}

// Issue 12: a page of evil.example whose DNS name is made to point at
// 127.0.0.1 (DNS rebinding) is same-origin with itself: its requests are
// refused by their Host.
TEST_F(ApiTest, Issue12OnlyOurOwnHostNamesAreAnswered) {
  char hostname[256] = {};
  ASSERT_EQ(gethostname(hostname, sizeof(hostname) - 1), 0);
  auto ask = [&](const std::string& host, const std::string& target = "/api/v1/projects") {
    Request r;
    r.method = "GET";
    r.target = target;
    r.headers["host"] = host;
    SplitTarget(target, &r.path, &r.query);
    return Answer(api_, r);
  };
  const std::vector<std::string> ours = {
      "127.0.0.1:7070",  "localhost:7070", "LOCALHOST",
      "localhost.:9000", "[::1]:7070",     "10.1.2.3:7070",
      "[fe80::1]",       "m1:7070",        std::string(hostname) + ":7070"};
  for (const auto& host : ours) {
    EXPECT_EQ(ask(host).status, 200) << host;
  }
  Response r = ask("evil.example:7070");
  EXPECT_EQ(r.status, 421);
  EXPECT_EQ(json::parse(r.body)["error"],
            "this Anthill does not answer to the name 'evil.example:7070' (a guard against DNS "
            "rebinding); if it is yours, add \"evil.example\" to allowed_hosts in [server] of "
            "anthill.toml");
  EXPECT_EQ(ask("evil.example", "/deployments").status, 421);
  EXPECT_EQ(ask("127.0.0.1.evil.example").status, 421);
  EXPECT_EQ(ask("localhost@evil.example").status, 421);
  EXPECT_EQ(ask("evil.example", "/healthz").status, 200) << "load balancers probe by any name";
  EXPECT_EQ(ask("deploy.example.com").status, 421);
  AllowHosts({"deploy.example.com"});
  EXPECT_EQ(ask("deploy.example.com").status, 200);
  EXPECT_EQ(ask("Deploy.Example.com:443").status, 200);
  EXPECT_EQ(ask("evil.example").status, 421);
}

}  // namespace
}  // namespace anthill::http
