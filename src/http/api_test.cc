// API v1 reading: deployments (paging, one, its log), projects, pages and
// assets, metrics, and answers that carry bytes that are not UTF-8.

#include "http/api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/api_fixture_test.h"
#include "testing/testing.h"

namespace anthill::http {
namespace {

using nlohmann::json;

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

TEST_F(ApiTest, PagesAndAssetsAreEmbeddedWithEtags) {
  struct Case {
    std::string target, type;
  } cases[] = {{"/deployments", "text/html; charset=utf-8"},
               {"/deployments/42", "text/html; charset=utf-8"},
               {"/projects", "text/html; charset=utf-8"},
               {"/ui/app.css", "text/css; charset=utf-8"},
               {"/ui/deployments.js", "text/javascript; charset=utf-8"}};
  for (const auto& c : cases) {
    Response r = Get(c.target);
    ASSERT_EQ(r.status, 200) << c.target;
    EXPECT_EQ(r.content_type, c.type) << c.target;
    std::map<std::string, std::string> h(r.headers.begin(), r.headers.end());
    ASSERT_FALSE(h["ETag"].empty()) << c.target;
    EXPECT_EQ(h["Cache-Control"], "no-cache");
    // The same ETag back: 304 and no body.
    Response again = Get(c.target, "GET", "", {{"if-none-match", h["ETag"]}});
    EXPECT_EQ(again.status, 304) << c.target;
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(Get(c.target, "GET", "", {{"if-none-match", "\"old\""}}).status, 200);
  }
  const Response shell = Get("/deployments");
  std::map<std::string, std::string> page(shell.headers.begin(), shell.headers.end());
  EXPECT_NE(page["Content-Security-Policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_NE(Get("/deployments").body.find("/ui/deployments.js"), std::string::npos);
  EXPECT_EQ(Get("/deployments/x").status, 404);
  EXPECT_EQ(Get("/ui/assets.cc").status, 404);
  EXPECT_EQ(Get("/ui/../anthill.db").status, 404);
}

TEST_F(ApiTest, TheNotFoundPageEscapesThePathAndPointsTheWay) {
  Response r = Get("/deployment/<script>alert(1)</script>");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.body.find("<script>alert(1)"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("/deployments/&lt;number&gt;"), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/projects\""), std::string::npos);
}

TEST_F(ApiTest, PagingBackAndTheProjectsNeighbours) {
  for (int i = 0; i < 5; ++i) AddDeployment(i % 2 ? "other" : "hello");  // hello: 1 3 5
  json j = json::parse(Get("/api/v1/deployments?after=1&limit=2").body);
  ASSERT_EQ(j["deployments"].size(), 2u);
  EXPECT_EQ(j["deployments"][0]["id"], 3);
  EXPECT_EQ(j["deployments"][1]["id"], 2);
  EXPECT_EQ(Get("/api/v1/deployments?after=x").status, 400);
  json d = json::parse(Get("/api/v1/deployments/3").body);
  EXPECT_EQ(d["previous_id"], 1);
  EXPECT_EQ(d["next_id"], 5);
  d = json::parse(Get("/api/v1/deployments/5").body);
  EXPECT_EQ(d["previous_id"], 3);
  EXPECT_TRUE(d["next_id"].is_null());
}

TEST_F(ApiTest, MetricsInPrometheusTextFormat) {
  AddDeployment("hello");
  AddDeployment("hello");
  Response r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type.rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_NE(r.body.find("anthill_up 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("# TYPE anthill_deployments_total counter\n"), std::string::npos);
  EXPECT_NE(r.body.find("anthill_deployments_total{project=\"hello\",status=\"succeeded\"} 2\n"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("anthill_program_running{project=\"hello\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("anthill_queue_waiting{project=\"hello\"} 1\n"), std::string::npos);
  EXPECT_NE(r.body.find("anthill_max_parallel_builds 1\n"), std::string::npos);
}

TEST_F(ApiTest, Issue12BytesThatAreNotUtf8AreReplacedNotA500) {
  store::Deployment d;
  d.project = "hello";
  d.machine = "m1";
  d.to_version = "v9\xe9";
  d.ref = "refs/tags/v9\xe9";
  d.to_commit = std::string(40, 'a');
  d.actor = "poll";
  d.status = store::DeploymentStatus::kQueued;
  d.started_at = Now();
  const int64_t id = *store_->CreateDeployment(d);
  // A cancel whose actor is %ff%fe: passed on as the bytes it is...
  Response r = Get("/api/v1/deployments/" + std::to_string(id) + "?actor=%ff%fe", "DELETE");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(projects_.calls.back(), "cancel " + std::to_string(id) + " \xff\xfe");
  // ... and recorded as the controller does.
  d.id = id;
  d.status = store::DeploymentStatus::kCancelled;
  d.finished_at = Now();
  d.error = "cancelled by \xff\xfe";
  ASSERT_TRUE(store_->UpdateDeployment(d).ok());
  const std::vector<std::string> targets = {"/api/v1/deployments",
                                            "/api/v1/deployments/" + std::to_string(id)};
  for (const auto& target : targets) {
    r = Get(target);
    ASSERT_EQ(r.status, 200) << target << ": " << r.body;
    json j = json::parse(r.body);
    const json& got = j.contains("deployments") ? j["deployments"][0] : j;
    EXPECT_EQ(got["to_version"], "v9" + kReplacement) << target;
    EXPECT_EQ(got["error"], "cancelled by " + kReplacement + kReplacement) << target;
  }
  // A path that is not UTF-8 is still a 404 that says what was asked.
  r = Get("/api/v1/%ff");
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"], "no route for GET /api/v1/" + kReplacement);
}

}  // namespace
}  // namespace anthill::http
