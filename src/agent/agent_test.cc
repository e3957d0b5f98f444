// The agent against a fake orchestrator over loopback, with real releases
// (packed, served by the orchestrator's artifact route, checked, unpacked),
// real programs (python3's http.server, health-checked over HTTP on a port
// of the test's) and real restarts of the agent on its data dir.
#include <signal.h>

#include "agent/agent_fixture_test.h"
#include "base/files.h"

namespace anthill::agent {
namespace {

using deploy::ProjectReport;

bool Succeeded(const ProjectReport& s, int64_t deployment, const deploy::AgentRelease& r) {
  return s.run_deployment_id == deployment && s.run_release == r.release &&
         s.run_status == "succeeded" && s.running_release == r.release && s.health == "healthy";
}

TEST_F(AgentTest, ADesiredRunIsDownloadedStartedCheckedAndReported) {
  const deploy::AgentRelease v1 = Release("v1");
  // The first orchestrator of the list is down: the agent asks the next.
  AgentSettings settings = Settings();
  settings.servers = {"http://127.0.0.1:" + std::to_string(testing::FreePort()),
                      orchestrator_->url()};
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent(settings);

  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }))
      << deploy::ToJson(orchestrator_->state("hello").value_or(ProjectReport{}));
  EXPECT_EQ(Serving(), "v1");
  const ProjectReport s = *orchestrator_->state("hello");
  EXPECT_EQ(s.generation, 1);
  EXPECT_EQ(s.fetched, std::vector<std::string>{v1.release});
  EXPECT_TRUE(s.fetch_failed.empty());
  EXPECT_EQ(s.running_version, "v1");
  EXPECT_EQ(s.running_commit, v1.commit);
  EXPECT_GT(s.pid, 0);
  EXPECT_TRUE(s.since.has_value());
  EXPECT_EQ(StepsOf(7), (std::vector<std::string>{"download:succeeded", "start:succeeded",
                                                  "healthcheck:succeeded"}));
  for (const store::AgentStep& step : orchestrator_->steps()) {
    EXPECT_EQ(step.key.rfind("m1/", 0), 0u) << step.key;
    EXPECT_TRUE(step.finished_at.has_value()) << step.key;
  }
  EXPECT_EQ(orchestrator_->labels_asked(), "web,eu");
  // The environment: the agent's --env, the project's env with ${PORT}
  // expanded, the ANTHILL_* variables.
  const std::string log = ReadWholeFile(dir_ / "agent" / "logs" / "app" / "hello.log");
  EXPECT_NE(log.find("hello from " + std::to_string(port_) + " on m1 running v1"),
            std::string::npos)
      << log;
  EXPECT_EQ(ProgramsRunning(), 1);
}

TEST_F(AgentTest, AKilledAgentReadoptsItsProgramWithoutStartingASecond) {
  const deploy::AgentRelease v1 = Release("v1");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));
  const int64_t pid = orchestrator_->state("hello")->pid;

  agent_->Kill();
  agent_.reset();
  EXPECT_EQ(Serving(), "v1") << "the program runs while the agent is down";
  const size_t reported = orchestrator_->reports().size();
  StartAgent();
  // Reports of the new life, each saying the same program runs.
  ASSERT_TRUE(testing::WaitUntil([&] { return orchestrator_->reports().size() >= reported + 3; }));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));
  EXPECT_EQ(orchestrator_->state("hello")->pid, pid);
  EXPECT_EQ(::kill(static_cast<pid_t>(pid), 0), 0);
  EXPECT_EQ(Serving(), "v1");
  EXPECT_EQ(ProgramsRunning(), 1);
  EXPECT_EQ(StepsOf(7), (std::vector<std::string>{"download:succeeded", "start:succeeded",
                                                  "healthcheck:succeeded"}))
      << "nothing was started again";
  EXPECT_EQ(agent_->generation(), 1);
}

TEST_F(AgentTest, KilledMidSwapReportsTheStepInterruptedAndConverges) {
  const deploy::AgentRelease v1 = Release("v1");
  const std::string flag = (dir_ / "v2-may-serve").string();
  const deploy::AgentRelease v2 =
      Release("v2", true, "while [ ! -f " + flag + " ]; do sleep 0.05; done");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));

  orchestrator_->SetDesired(State(2, {Hello(8, v2)}));
  // v2 waits for the flag: its health check runs until the agent is killed.
  ASSERT_TRUE(testing::WaitUntil([&] {
    auto steps = StepsOf(8);
    return !steps.empty() && steps.back() == "healthcheck:running";
  }));
  agent_->Kill();
  agent_.reset();
  testing::WriteFile(flag, "go\n");
  StartAgent();

  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 8, v2); }))
      << deploy::ToJson(orchestrator_->state("hello").value_or(ProjectReport{}));
  EXPECT_EQ(Serving(), "v2");
  EXPECT_EQ(ProgramsRunning(), 1) << "the candidate the first life started was stopped";
  const std::vector<std::string> steps = StepsOf(8);
  ASSERT_GE(steps.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(steps.begin(), steps.begin() + 4),
            (std::vector<std::string>{"download:succeeded", "stop:succeeded", "start:succeeded",
                                      "healthcheck:interrupted"}));
  EXPECT_EQ(
      std::vector<std::string>(steps.end() - 3, steps.end()),
      (std::vector<std::string>{"stop:succeeded", "start:succeeded", "healthcheck:succeeded"}));
  for (const store::AgentStep& step : orchestrator_->steps()) {
    if (step.status == store::StepStatus::kInterrupted) {
      EXPECT_EQ(step.error, "the agent stopped during the step");
    }
  }
}

TEST_F(AgentTest, ANewerGenerationSwapsToTheNewRelease) {
  const deploy::AgentRelease v1 = Release("v1");
  const deploy::AgentRelease v2 = Release("v2");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));

  // Phase 1 alone: v2 is fetched, nothing switches.
  deploy::DesiredProject fetch_only = Hello(8, v2);
  fetch_only.fetch = {v1, v2};
  fetch_only.run = v1;
  orchestrator_->SetDesired(State(2, {fetch_only}));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) {
    return s.generation == 2 && s.fetched == std::vector<std::string>{v1.release, v2.release};
  }));
  EXPECT_EQ(Serving(), "v1");
  EXPECT_EQ(StepsOf(8), std::vector<std::string>{"download:succeeded"});

  // Phase 2: v2 runs.
  deploy::DesiredProject run = Hello(8, v2);
  run.fetch = {v1, v2};
  orchestrator_->SetDesired(State(3, {run}));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 8, v2); }));
  EXPECT_EQ(Serving(), "v2");
  EXPECT_EQ(StepsOf(8), (std::vector<std::string>{"download:succeeded", "stop:succeeded",
                                                  "start:succeeded", "healthcheck:succeeded"}));
  EXPECT_EQ(ProgramsRunning(), 1);
}

TEST_F(AgentTest, AnOlderGenerationIsIgnoredAcrossRestartsToo) {
  const deploy::AgentRelease v1 = Release("v1");
  const deploy::AgentRelease v2 = Release("v2");
  orchestrator_->SetDesired(State(1, {Hello(7, v1)}));
  StartAgent();
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 7, v1); }));
  orchestrator_->SetDesired(State(5, {Hello(8, v2)}));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 8, v2); }));

  // A stale orchestrator answers generation 1 (v1) at once.
  orchestrator_->AnswerStale(State(1, {Hello(7, v1)}));
  const int stale = orchestrator_->stale_answers();
  ASSERT_TRUE(testing::WaitUntil([&] { return orchestrator_->stale_answers() >= stale + 2; }));
  EXPECT_EQ(agent_->generation(), 5);
  EXPECT_EQ(Serving(), "v2");

  agent_->Stop();
  agent_.reset();
  StartAgent();
  EXPECT_EQ(agent_->generation(), 5) << "kept on disk";
  ASSERT_TRUE(testing::WaitUntil([&] { return orchestrator_->stale_answers() >= stale + 4; }));
  ASSERT_TRUE(WaitForState([&](const ProjectReport& s) { return Succeeded(s, 8, v2); }));
  EXPECT_EQ(agent_->generation(), 5);
  EXPECT_EQ(Serving(), "v2");
  EXPECT_EQ(StepsOf(7), (std::vector<std::string>{"download:succeeded", "start:succeeded",
                                                  "healthcheck:succeeded"}));
}

}  // namespace
}  // namespace anthill::agent
