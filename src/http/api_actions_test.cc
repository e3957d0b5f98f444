// API v1 actions: deploy, rollback, notify and cancel; the token they need,
// the bodies they read, and the controller's refusals passed on.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "http/api_fixture_test.h"

namespace anthill::http {
namespace {

using nlohmann::json;

TEST_F(ApiTest, ActionsNeedTheTokenWhenOneIsSet) {
  UseToken("t0k");
  const std::string body = R"({"ref": "main", "actor": "alice"})";
  EXPECT_EQ(Get("/api/v1/projects/hello/deploy", "POST", body).status, 401);
  EXPECT_EQ(
      Get("/api/v1/projects/hello/deploy", "POST", body, {{"authorization", "Bearer nope"}}).status,
      401);
  EXPECT_EQ(Get("/api/v1/deployments/3?actor=bob", "DELETE").status, 401);
  EXPECT_TRUE(projects_.calls.empty());
  Response r =
      Get("/api/v1/projects/hello/deploy", "POST", body, {{"authorization", "Bearer t0k"}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(json::parse(r.body)["deployment"], 7);
  ASSERT_EQ(projects_.calls.size(), 1u);
  EXPECT_EQ(projects_.calls[0], "deploy hello main alice");
}

TEST_F(ApiTest, ActionsReadTheirBodyAndPassRefusalsOn) {
  EXPECT_EQ(Get("/api/v1/projects/hello/deploy", "GET").status, 405);
  EXPECT_EQ(Get("/api/v1/projects/hello/deploy", "POST", "[1]").status, 400);
  EXPECT_EQ(Get("/api/v1/projects/hello/deploy", "POST", R"({"ref": 5})").status, 400);
  Response r = Get("/api/v1/projects/nope/rollback", "POST", R"({"version": "main-1"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"], "no project 'nope'");
  EXPECT_EQ(Get("/api/v1/projects/hello/rollback", "POST", "").status, 202);
  EXPECT_EQ(Get("/api/v1/projects/hello/notify", "POST",
                R"({"ref": "refs/heads/main", "commit": ")" + std::string(40, 'c') + "\"}")
                .status,
            202);
  EXPECT_EQ(projects_.calls.back(), "notify hello refs/heads/main cccccccc notify api");
  Response q = Get("/api/v1/queue");
  ASSERT_EQ(q.status, 200);
  EXPECT_EQ(json::parse(q.body)["projects"][0]["waiting"]["reason"],
            "waiting for deployment 8 to finish");
}

TEST_F(ApiTest, CancelIsForUnfinishedDeploymentsOnly) {
  int64_t done = AddDeployment("hello");
  EXPECT_EQ(Get("/api/v1/deployments/" + std::to_string(done), "DELETE").status, 409);
  EXPECT_EQ(Get("/api/v1/deployments/999", "DELETE").status, 404);
  store::Deployment d;
  d.project = "hello";
  d.machine = "m1";
  d.status = store::DeploymentStatus::kQueued;
  d.started_at = Now();
  int64_t queued = *store_->CreateDeployment(d);
  Response r = Get("/api/v1/deployments/" + std::to_string(queued) + "?actor=bob", "DELETE");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(projects_.calls.back(), "cancel " + std::to_string(queued) + " bob");
}

}  // namespace
}  // namespace anthill::http
