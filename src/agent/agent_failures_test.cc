// What goes wrong on an agent, and what it says of it: an artifact whose
// bytes are not the ones named, a release that fails its health check, an
// orchestrator that does not take reports for a while.
#include "agent/agent_fixture_test.h"

namespace anthill::agent {
namespace {

using deploy::ProjectReport;

bool Succeeded(const ProjectReport& s, int64_t deployment, const deploy::AgentRelease& r) {
  return s.run_deployment_id == deployment && s.run_release == r.release &&
         s.run_status == "succeeded" && s.running_release == r.release && s.health == "healthy";
}

TEST_F(AgentTest, AChecksumMismatchIsReportedAndNothingSwitches) {
  const deploy::AgentRelease v1 = Release("v1");
  deploy::AgentRelease v2 = Release("v2");
  const std::string published = v2.sha256;
  v2.sha256 = std::string(64, '0');
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));
  const int64_t pid = orchestrator_->state("hello")->pid;

  orchestrator_->SetDesired(State(2, {Hello(8, v2)}));
  ASSERT_TRUE(WaitForState([](const ProjectReport& s) { return s.run_status == "failed"; }));
  const ProjectReport s = *orchestrator_->state("hello");
  ASSERT_EQ(s.fetch_failed.count(v2.release), 1u);
  const std::string why = s.fetch_failed.at(v2.release);
  EXPECT_EQ(why.rfind("artifact hello/v2.tar.zst from orchestrator at " + orchestrator_->url() +
                          ": checksum mismatch for hello/v2.tar.zst",
                      0),
            0u)
      << why;
  EXPECT_NE(why.find("expected sha256 " + v2.sha256 + ", got " + published), std::string::npos)
      << why;
  EXPECT_EQ(s.run_deployment_id, 8);
  EXPECT_EQ(s.run_error, "release " + v2.release + " is not here: " + why);
  EXPECT_EQ(s.fetched, std::vector<std::string>{v1.release});
  EXPECT_EQ(s.running_release, v1.release);
  EXPECT_EQ(s.pid, pid);
  EXPECT_EQ(Serving(), "v1");
  EXPECT_EQ(StepsOf(8), std::vector<std::string>{"download:failed"});
  EXPECT_FALSE(
      std::filesystem::exists(dir_ / "agent" / "projects" / "hello" / "releases" / v2.release));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "agent" / "tmp"));
}

TEST_F(AgentTest, AFailingHealthCheckIsRolledBackHereAndReportedFailedOnce) {
  const deploy::AgentRelease v1 = Release("v1");
  const deploy::AgentRelease bad = Release("v2", /*serves=*/false);
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));

  deploy::DesiredProject p = Hello(8, bad);
  p.program.health.timeout = Duration(1500);
  orchestrator_->SetDesired(State(2, {p}));
  ASSERT_TRUE(WaitForState(
      [](const ProjectReport& s) { return s.run_deployment_id == 8 && s.run_status == "failed"; }));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) {
    return s.running_release == v1.release && s.health == "healthy";
  }));
  const ProjectReport s = *orchestrator_->state("hello");
  EXPECT_EQ(s.run_error.rfind("health check failed after ", 0), 0u) << s.run_error;
  EXPECT_NE(s.run_error.find("; rolled back to v1"), std::string::npos) << s.run_error;
  EXPECT_EQ(Serving(), "v1");
  const std::vector<std::string> steps = {"download:succeeded", "stop:succeeded", "start:succeeded",
                                          "healthcheck:failed", "rollback:succeeded"};
  EXPECT_EQ(StepsOf(8), steps);

  // A new life does not try the failed target again: the orchestrator
  // decides what comes next.
  agent_->Stop();
  agent_.reset();
  const size_t reported = orchestrator_->reports().size();
  StartAgent();
  ASSERT_TRUE(testing::WaitUntil([&] { return orchestrator_->reports().size() >= reported + 3; }));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) {
    return s.run_status == "failed" && s.running_release == v1.release && s.health == "healthy";
  }));
  EXPECT_EQ(StepsOf(8), steps);
  EXPECT_EQ(Serving(), "v1");
  EXPECT_EQ(ProgramsRunning(), 1);
}

TEST_F(AgentTest, ReportsNotAcknowledgedAreSentAgainUntilTheyAre) {
  orchestrator_->AnswerReportsWith(503);
  const deploy::AgentRelease v1 = Release("v1");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  // It runs, and the orchestrator has refused its reports a few times.
  ASSERT_TRUE(testing::WaitUntil([&] { return Serving() == "v1"; }));
  ASSERT_TRUE(testing::WaitUntil([&] { return orchestrator_->refused_reports() >= 5; }));
  EXPECT_TRUE(orchestrator_->reports().empty());

  orchestrator_->AnswerReportsWith(200);
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));
  EXPECT_EQ(StepsOf(7), (std::vector<std::string>{"download:succeeded", "start:succeeded",
                                                  "healthcheck:succeeded"}));
  std::set<std::string> ids;
  for (const auto& r : orchestrator_->reports()) {
    EXPECT_TRUE(ids.insert(r.id).second) << "report " << r.id << " applied twice";
  }
}

TEST_F(AgentTest, ReportsQueuedWhenTheAgentIsKilledAreDeliveredByTheNextLife) {
  orchestrator_->AnswerReportsWith(503);
  const deploy::AgentRelease v1 = Release("v1");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  // Killed once its outcome is queued, undelivered.
  ASSERT_TRUE(testing::WaitUntil([&] {
    return orchestrator_->last_refused_report().find("\"run_status\":\"succeeded\"") !=
           std::string::npos;
  }));
  agent_->Kill();
  agent_.reset();

  orchestrator_->AnswerReportsWith(200);
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));
  EXPECT_EQ(StepsOf(7), (std::vector<std::string>{"download:succeeded", "start:succeeded",
                                                  "healthcheck:succeeded"}));
}

TEST_F(AgentTest, AWrongTokenIsRefusedAndNothingIsDone) {
  const deploy::AgentRelease v1 = Release("v1");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  AgentSettings settings = Settings();
  settings.token = "wrong";
  StartAgent(settings);
  // Refused, and asked again (1 s, then 2 s...): the token may be fixed.
  ASSERT_TRUE(testing::WaitUntil([&] { return orchestrator_->unauthorized() >= 2; }));
  EXPECT_EQ(orchestrator_->polls(), 0);
  EXPECT_EQ(agent_->generation(), 0);
  EXPECT_EQ(Serving(), "");
}

}  // namespace
}  // namespace anthill::agent
