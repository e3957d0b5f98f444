#include "http/api.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "http/auth.h"
#include "http/client.h"
#include "http/page.h"
#include "http/url.h"
#include "testing/testing.h"

namespace anthill::http {
namespace {

using nlohmann::json;

class FakeProjects : public deploy::Controller {
 public:
  std::vector<deploy::ProjectState> Projects() const override {
    deploy::ProjectState p;
    p.name = "hello";
    p.state = "running";
    p.version = "main-1a2b3c4d";
    p.pid = 42;
    p.started_at = Now();
    return {p};
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "anthill.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s.value());
    api_ = MakeApi(ApiContext{store_.get(), &projects_, dir_.path(), "m1", ""});
  }
  int64_t AddDeployment(const std::string& project, const std::string& actor = "poll") {
    store::Deployment d;
    d.project = project;
    d.machine = "m1";
    d.to_version = "main-" + std::string(8, 'a');
    d.to_commit = std::string(40, 'a');
    d.actor = actor;
    d.status = store::DeploymentStatus::kSucceeded;
    d.started_at = FromUnixMillis(1795532458000);
    d.finished_at = FromUnixMillis(1795532459500);
    int64_t id = *store_->CreateDeployment(d);
    auto step = store_->StartStep(id, "build", d.started_at);
    (void)store_->FinishStep(*step, store::StepStatus::kSucceeded, *d.finished_at, "");
    return id;
  }
  Response Get(const std::string& target, const std::string& method = "GET") {
    Request r;
    r.method = method;
    r.target = target;
    SplitTarget(target, &r.path, &r.query);
    return api_(r);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  FakeProjects projects_;
  Handler api_;
};

TEST_F(ApiTest, DeploymentsAreNewestFirstWithStepsAndPaging) {
  for (int i = 0; i < 3; ++i) AddDeployment(i == 1 ? "other" : "hello");
  Response r = Get("/api/v1/deployments?limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["deployments"].size(), 2u);
  EXPECT_EQ(j["deployments"][0]["id"], 3);
  EXPECT_EQ(j["next_before"], 2);
  const json& d = j["deployments"][0];
  EXPECT_EQ(d["started_at"], "2026-11-24T15:00:58.000Z");
  EXPECT_EQ(d["duration_ms"], 1500);
  EXPECT_EQ(d["status"], "succeeded");
  EXPECT_EQ(d["steps"][0]["name"], "build");
  EXPECT_EQ(d["steps"][0]["project"], "hello");
  EXPECT_EQ(d["steps"][0]["machine"], "m1");
  j = json::parse(Get("/api/v1/deployments?project=hello&before=3").body);
  ASSERT_EQ(j["deployments"].size(), 1u);
  EXPECT_EQ(j["deployments"][0]["id"], 1);
  EXPECT_TRUE(j["next_before"].is_null());
}

TEST_F(ApiTest, BadParametersAre400AndMissingThings404) {
  struct Case {
    std::string target;
    int status;
    std::string error;
  } cases[] = {
      {"/api/v1/deployments?status=great", 400, "bad status 'great'"},
      {"/api/v1/deployments?limit=0", 400, "bad limit '0' (1 to 1000)"},
      {"/api/v1/deployments?before=x", 400, "bad before 'x' (a deployment id)"},
      {"/api/v1/deployments/99", 404, "no deployment 99"},
      {"/api/v1/deployments/99/log", 404, "no deployment 99"},
      {"/api/v1/nothing", 404, "no route for GET /api/v1/nothing"},
  };
  for (const auto& c : cases) {
    Response r = Get(c.target);
    EXPECT_EQ(r.status, c.status) << c.target;
    EXPECT_EQ(json::parse(r.body)["error"], c.error) << c.target;
  }
  Response r = Get("/api/v1/projects", "POST");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Get("/nowhere").status, 404);
  r = Get("/");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(r.headers[0].second, "/deployments");
}

TEST_F(ApiTest, OneDeploymentItsLogAndProjects) {
  int64_t id = AddDeployment("hello");
  testing::WriteFile(dir_ / "logs/build" / (std::to_string(id) + ".log"), "==> build: make\n");
  EXPECT_EQ(json::parse(Get("/api/v1/deployments/" + std::to_string(id)).body)["id"], id);
  Response log = Get("/api/v1/deployments/" + std::to_string(id) + "/log");
  EXPECT_EQ(log.status, 200);
  EXPECT_EQ(log.body, "==> build: make\n");
  EXPECT_EQ(log.content_type, "text/plain; charset=utf-8");
  json p = json::parse(Get("/api/v1/projects").body)["projects"][0];
  EXPECT_EQ(p["name"], "hello");
  EXPECT_EQ(p["pid"], 42);
  EXPECT_EQ(p["version"], "main-1a2b3c4d");
  EXPECT_EQ(json::parse(Get("/healthz").body)["status"], "ok");
}

TEST_F(ApiTest, ThePageEscapesRepositoryControlledText) {
  AddDeployment("hello", "<script>alert(1)</script>");
  Response r = Get("/deployments");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("succeeded"), std::string::npos);
}

TEST(Url, DecodesPathsAndQueries) {
  std::string path;
  std::map<std::string, std::string> q;
  SplitTarget("/a%20b/c?x=1&y=a+b%21&flag", &path, &q);
  EXPECT_EQ(path, "/a b/c");
  EXPECT_EQ(q["x"], "1");
  EXPECT_EQ(q["y"], "a b!");
  EXPECT_EQ(q.count("flag"), 1u);
  std::string host, port;
  EXPECT_TRUE(SplitHostPort("[::1]:80", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitHostPort("nohost", &host, &port));
}

TEST(Auth, BearerTokenIsComparedExactly) {
  Request r;
  EXPECT_TRUE(Authorized(r, ""));
  EXPECT_FALSE(Authorized(r, "s3cret"));
  r.headers["authorization"] = "Bearer s3cret";
  EXPECT_TRUE(Authorized(r, "s3cret"));
  r.headers["authorization"] = "Bearer s3cre";
  EXPECT_FALSE(Authorized(r, "s3cret"));
  r.headers["authorization"] = "Basic s3cret";
  EXPECT_FALSE(Authorized(r, "s3cret"));
}

TEST(Server, RealSocketsKeepAliveAndTheBodyLimit) {
  boost::asio::io_context io;
  int calls = 0;
  Server server(io, [&](const Request& r) {
    ++calls;
    return Response{200, "text/plain", r.method + " " + r.path + " " + std::to_string(r.body.size()), {}};
  });
  ASSERT_TRUE(server.Listen("127.0.0.1:0").ok());
  std::string addr = "127.0.0.1:" + std::to_string(server.port());
  std::thread loop([&] { io.run(); });
  auto r = Fetch("GET", addr, "/x?y=1");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /x 0");
  r = Fetch("POST", addr, "/big", std::string(1024 * 1024 + 1, 'x'));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->status, 413);
  boost::asio::post(io, [&] { server.Stop(); });
  loop.join();
  EXPECT_EQ(calls, 1);
  auto gone = Fetch("GET", addr, "/");
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.error().find("cannot reach anthill at " + addr + ": Connection refused (is "
                              "`anthill serve` running?)"),
            std::string::npos)
      << gone.error();
}

}  // namespace
}  // namespace anthill::http
