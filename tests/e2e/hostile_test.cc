// Issue 12 against the real binary: what a page of another site, a rebound
// DNS name or a byte that is not UTF-8 could do to a running Anthill with no
// token set, and that our own CLI still acts.
#include "http/client.h"
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

class HostileTest : public AnthillTest {
 protected:
  std::string Addr() const { return "127.0.0.1:" + std::to_string(api_port_); }
  // {status, body} of one request with these headers (they win over the client's).
  std::pair<int, std::string> Ask(const std::string& method, const std::string& target,
                                  const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::string& body = "") {
    auto r = http::Fetch(method, Addr(), target, body, "", headers);
    if (!r.ok()) return {-1, r.error()};
    return {r->status, r->body};
  }
};

TEST_F(HostileTest, Issue12OtherSitesAndOtherNamesCannotActButTheCliCan) {
  StartAnthill();
  ASSERT_EQ(WaitFinished(Head())["status"], "succeeded");
  const int64_t pid = Project()["pid"];
  const std::string stop = "/api/v1/projects/hello/stop";

  // What a page elsewhere can send without asking: refused, and the program runs on.
  EXPECT_EQ(Ask("POST", stop, {{"Content-Type", "text/plain"}}, "{}").first, 415);
  EXPECT_EQ(Ask("POST", stop, {{"Sec-Fetch-Site", "cross-site"}}, "{}").first, 403);
  EXPECT_EQ(Ask("POST", stop, {{"Origin", "http://evil.example"}}, "{}").first, 403);
  auto [status, body] = Ask("GET", "/api/v1/projects", {{"Host", "evil.example:7070"}});
  EXPECT_EQ(status, 421);
  EXPECT_NE(body.find("add \\\"evil.example\\\" to allowed_hosts in [server]"), std::string::npos)
      << body;
  EXPECT_EQ(Ask("GET", "/api/v1/%ff", {}).first, 404);
  EXPECT_EQ(Project()["pid"], pid);
  EXPECT_EQ(Project()["state"], "running");

  // Our CLI: its calls are JSON, bodiless ones (cancel) too.
  auto [code, out] = RunCli({"stop", "hello", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  ASSERT_TRUE(testing::WaitUntil([&] { return Project()["state"] == "stopped"; }))
      << Project().dump(1);
  std::tie(code, out) = RunCli({"start", "hello", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  std::tie(code, out) = RunCli({"cancel", "999", "-c", config_path_.string()});
  EXPECT_EQ(code, 3) << out;
  EXPECT_NE(out.find("the daemon said 404: no deployment 999"), std::string::npos) << out;
}

TEST_F(HostileTest, Issue12ATagThatIsNotUtf8IsShownNotA500) {
  WriteConfig({.rule = "tags = \"v9*\""});
  testing::Sh(origin(), "git tag 'v9'$'\\xe9'");
  StartAnthill();
  json d = WaitFinished(Head());
  ASSERT_FALSE(d.is_null());
  EXPECT_EQ(d["to_version"], "v9\xEF\xBF\xBD");
  int status = 0;
  ApiText("/api/v1/deployments", &status);
  EXPECT_EQ(status, 200);
  ApiText("/api/v1/projects", &status);
  EXPECT_EQ(status, 200);
  auto [code, out] = RunCli({"deployments", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
}

}  // namespace
}  // namespace anthill::e2e
