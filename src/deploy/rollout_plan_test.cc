#include "deploy/rollout_plan.h"

#include <gtest/gtest.h>

namespace anthill::deploy {
namespace {

store::AgentRow Agent(std::string name, std::vector<std::string> labels, bool revoked = false) {
  store::AgentRow a;
  a.name = std::move(name);
  a.labels = std::move(labels);
  if (revoked) a.revoked_at = Now();
  return a;
}

std::vector<std::string> Names(const std::vector<store::AgentRow>& agents) {
  std::vector<std::string> out;
  for (const auto& a : agents) out.push_back(a.name);
  return out;
}

TEST(RolloutPlan, TargetsMatchAGlobHaveEveryLabelAreNotRevokedAndComeByName) {
  const std::vector<store::AgentRow> agents = {
      Agent("web-3", {"web", "eu"}),  Agent("web-1", {"web"}),
      Agent("db-1", {"db", "eu"}),    Agent("web-2", {"web", "eu"}, /*revoked=*/true),
      Agent("edge-1", {"web", "eu"}), Agent("web-10", {"eu", "web"}),
  };
  struct Case {
    std::vector<std::string> machines, labels, want;
  } cases[] = {
      {{"web-*"}, {}, {"web-1", "web-10", "web-3"}},
      {{"web-?"}, {}, {"web-1", "web-3"}},
      {{"web-[13]", "db-*"}, {}, {"db-1", "web-1", "web-3"}},
      {{}, {"eu"}, {"db-1", "edge-1", "web-10", "web-3"}},
      {{}, {"web", "eu"}, {"edge-1", "web-10", "web-3"}},
      {{"web-*"}, {"eu"}, {"web-10", "web-3"}},
      {{"web-2"}, {}, {}},  // revoked
      {{"nothing"}, {}, {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Names(TargetsOf(agents, c.machines, c.labels)), c.want)
        << ::testing::PrintToString(c.machines) << " " << ::testing::PrintToString(c.labels);
  }
}

TEST(RolloutPlan, NoTargetsSaysTheRuleAndTheAgentsKnown) {
  const std::vector<store::AgentRow> agents = {Agent("web-9", {"web"}, true), Agent("db-1", {})};
  EXPECT_EQ(NoTargetsMessage(agents, {"web-*"}, {}),
            "no agent matches machines [web-*] (agents: db-1 [], web-9 [web] revoked)");
  EXPECT_EQ(NoTargetsMessage({}, {}, {"web", "eu"}),
            "no agent matches labels [web, eu] (no agent is registered: anthill agents add NAME)");
}

TEST(RolloutPlan, BatchSizes) {
  auto count = [](int n) {
    config::Rollout r;
    r.batch_count = n;
    return r;
  };
  auto percent = [](int p) {
    config::Rollout r;
    r.batch_percent = p;
    return r;
  };
  struct Case {
    int targets;
    config::Rollout rollout;
    std::vector<int> want;
  } cases[] = {
      {4, config::Rollout{}, {1, 1, 1, 1}},  // the default: 25%
      {10, percent(25), {3, 3, 3, 1}},       // ceil(2.5)
      {7, percent(50), {4, 3}},
      {3, percent(1), {1, 1, 1}},  // at least one
      {5, percent(100), {5}},
      {3, count(2), {2, 1}},
      {2, count(5), {2}},
      {1, count(1), {1}},
      {0, count(1), {}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(BatchSizes(c.targets, c.rollout), c.want)
        << c.targets << " targets, count " << c.rollout.batch_count << ", "
        << c.rollout.batch_percent << "%";
  }
  EXPECT_EQ(Batches({"a", "b", "c"}, count(2)),
            (std::vector<std::vector<std::string>>{{"a", "b"}, {"c"}}));
}

TEST(RolloutPlan, WhatAReportSaysOfAFetch) {
  ProjectReport r;
  EXPECT_EQ(FetchOf(r, "R2").kind, FetchState::kPending);
  r.fetched = {"R1"};
  r.fetch_failed = {{"R2", "sha256 mismatch"}};
  FetchState failed = FetchOf(r, "R2");
  EXPECT_EQ(failed.kind, FetchState::kFailed);
  EXPECT_EQ(failed.error, "sha256 mismatch");
  EXPECT_EQ(FetchOf(r, "R1").kind, FetchState::kFetched);
  r.fetched.push_back("R2");  // a retry that worked wins over the old failure
  EXPECT_EQ(FetchOf(r, "R2").kind, FetchState::kFetched);
}

TEST(RolloutPlan, WhatAReportSaysOfARun) {
  ProjectReport r;
  r.run_deployment_id = 41;
  r.run_release = "R2";
  r.run_status = "succeeded";
  EXPECT_EQ(RunOf(r, 42, "R2").kind, RunState::kPending) << "another deployment's run";
  r.run_deployment_id = 42;
  EXPECT_EQ(RunOf(r, 42, "R1").kind, RunState::kPending) << "another release";
  EXPECT_EQ(RunOf(r, 42, "R2").kind, RunState::kSucceeded);
  r.run_status = "switching";
  EXPECT_EQ(RunOf(r, 42, "R2").kind, RunState::kSwitching);
  r.run_status = "failed";
  r.run_error = "healthcheck failed: GET / 500; back on R1";
  RunState failed = RunOf(r, 42, "R2");
  EXPECT_EQ(failed.kind, RunState::kFailed);
  EXPECT_EQ(failed.error, "healthcheck failed: GET / 500; back on R1");
}

// A rollout to 10,000 machines logs and records a line, not 10,000 names.
TEST(RolloutPlan, JoinNamesNamesTenOfAThousand) {
  EXPECT_EQ(JoinNames({}), "");
  EXPECT_EQ(JoinNames({"web-1", "web-2"}), "web-1, web-2");
  std::vector<std::string> many;
  for (int i = 1; i <= 11; ++i) many.push_back("m" + std::to_string(i));
  EXPECT_EQ(JoinNames(many), "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11") << "11: all";
  for (int i = 12; i <= 1000; ++i) many.push_back("m" + std::to_string(i));
  EXPECT_EQ(JoinNames(many), "m1, m2, m3, m4, m5, m6, m7, m8, m9, m10 and 990 more");
}

}  // namespace
}  // namespace anthill::deploy
