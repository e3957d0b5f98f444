// The agent's own file: what survives a kill, and the outbox's order.
#include "agent/agent_db.h"

#include <gtest/gtest.h>

#include "agent/reporter.h"
#include "testing/testing.h"

namespace anthill::agent {
namespace {

store::AgentStep Step(const std::string& key, store::StepStatus status) {
  store::AgentStep s;
  s.key = key;
  s.deployment_id = 7;
  s.name = store::StepName::kStart;
  s.status = status;
  s.started_at = FromUnixMillis(1000);
  if (status != store::StepStatus::kRunning) s.finished_at = FromUnixMillis(2000);
  return s;
}

std::string State(const std::string& project, const std::string& status) {
  return R"({"project":")" + project + R"(","run_status":")" + status + R"("})";
}

TEST(AgentDb, TheDesiredGenerationNeverGoesBackAcrossReopens) {
  testing::TempDir dir;
  std::string id;
  {
    auto db = AgentDb::Open(dir / "agent.db");
    ASSERT_TRUE(db.ok()) << db.error();
    id = (*db)->id();
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ((*db)->generation(), 0);
    EXPECT_TRUE(*(*db)->SaveDesired(5, "{\"generation\":5}"));
    EXPECT_FALSE(*(*db)->SaveDesired(3, "{\"generation\":3}"));
    EXPECT_FALSE(*(*db)->SaveDesired(5, "{\"generation\":5,\"other\":1}"));
  }
  auto db = AgentDb::Open(dir / "agent.db");
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ((*db)->id(), id);
  EXPECT_EQ((*db)->generation(), 5);
  EXPECT_EQ((*db)->desired(), "{\"generation\":5}");
}

TEST(AgentDb, TheOutboxKeepsOrderFoldsStatesAndRemembersOpenSteps) {
  testing::TempDir dir;
  {
    auto db = AgentDb::Open(dir / "agent.db");
    ASSERT_TRUE(db.ok()) << db.error();
    ASSERT_TRUE((*db)->QueueStep(Step("m1/a/1", store::StepStatus::kRunning)).ok());
    ASSERT_TRUE((*db)->QueueState("hello", State("hello", "switching")).ok());
    ASSERT_TRUE((*db)->QueueStep(Step("m1/a/1", store::StepStatus::kSucceeded)).ok());
    ASSERT_TRUE((*db)->QueueStep(Step("m1/a/2", store::StepStatus::kRunning)).ok());
    ASSERT_TRUE((*db)->QueueState("other", State("other", "succeeded")).ok());
    // A newer state of hello replaces the one queued.
    ASSERT_TRUE((*db)->QueueState("hello", State("hello", "succeeded")).ok());
  }
  auto db = AgentDb::Open(dir / "agent.db");
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(*(*db)->Queued(), 5);
  auto open = (*db)->OpenSteps();
  ASSERT_TRUE(open.ok()) << open.error();
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].key, "m1/a/2");

  auto items = (*db)->Oldest(100);
  ASSERT_TRUE(items.ok()) << items.error();
  ASSERT_EQ(items->size(), 5u);
  const store::AgentReport report = Batch((*db)->id(), *items);
  EXPECT_EQ(report.id, (*db)->id() + "/1-6");
  ASSERT_EQ(report.steps.size(), 2u);
  EXPECT_EQ(report.steps[0].key, "m1/a/1");
  EXPECT_EQ(report.steps[0].status, store::StepStatus::kSucceeded);
  EXPECT_EQ(report.steps[1].key, "m1/a/2");
  ASSERT_EQ(report.states.size(), 2u);
  EXPECT_EQ(report.states[0].first, "other");
  EXPECT_EQ(report.states[1].first, "hello");
  EXPECT_NE(report.states[1].second.find("\"run_status\":\"succeeded\""), std::string::npos);

  // Acknowledged up to the third item: the rest stays, in order.
  ASSERT_TRUE((*db)->Acknowledge((*items)[2].id).ok());
  auto rest = (*db)->Oldest(100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ(Batch((*db)->id(), *rest).id, (*db)->id() + "/5-6");
}

}  // namespace
}  // namespace anthill::agent
