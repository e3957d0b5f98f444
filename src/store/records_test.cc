// The words of Anthill's vocabulary: each enum's word is what the API, the
// database and the web page say, so a changed word breaks users and records.
#include "store/records.h"

#include <gtest/gtest.h>

namespace anthill::store {
namespace {

TEST(Records, StatusWordsRoundTrip) {
  for (auto s :
       {DeploymentStatus::kQueued, DeploymentStatus::kRunning, DeploymentStatus::kSucceeded,
        DeploymentStatus::kFailed, DeploymentStatus::kRolledBack, DeploymentStatus::kCancelled,
        DeploymentStatus::kInterrupted}) {
    EXPECT_EQ(ParseDeploymentStatus(ToString(s)), s);
  }
  EXPECT_EQ(ToString(DeploymentStatus::kRolledBack), "rolled_back");
  for (auto t : {Trigger::kPoll, Trigger::kWebhook, Trigger::kNotify, Trigger::kManual,
                 Trigger::kRollback}) {
    EXPECT_EQ(ParseTrigger(ToString(t)), t);
  }
  for (auto s : {StepStatus::kRunning, StepStatus::kSucceeded, StepStatus::kFailed,
                 StepStatus::kCancelled, StepStatus::kInterrupted}) {
    EXPECT_EQ(ParseStepStatus(ToString(s)), s);
  }
  EXPECT_FALSE(ParseDeploymentStatus("bogus").has_value());
}

TEST(Records, StepNamesAndEventKindsAreTheRecordedWords) {
  const std::pair<StepName, std::string_view> steps[] = {{StepName::kFetch, "fetch"},
                                                         {StepName::kBuild, "build"},
                                                         {StepName::kTest, "test"},
                                                         {StepName::kRelease, "release"},
                                                         {StepName::kStop, "stop"},
                                                         {StepName::kStart, "start"},
                                                         {StepName::kHealthcheck, "healthcheck"},
                                                         {StepName::kRollback, "rollback"}};
  for (auto [name, word] : steps) {
    EXPECT_EQ(ToString(name), word);
    EXPECT_EQ(ParseStepName(word), name);
  }
  const std::pair<ProgramEventKind, std::string_view> kinds[] = {
      {ProgramEventKind::kExited, "exited"},
      {ProgramEventKind::kRestarted, "restarted"},
      {ProgramEventKind::kRestartFailed, "restart_failed"},
      {ProgramEventKind::kStopped, "stopped"},
      {ProgramEventKind::kStarted, "started"},
      {ProgramEventKind::kStartFailed, "start_failed"},
      {ProgramEventKind::kUnhealthy, "unhealthy"},
      {ProgramEventKind::kHealthy, "healthy"}};
  for (auto [kind, word] : kinds) {
    EXPECT_EQ(ToString(kind), word);
    EXPECT_EQ(ParseProgramEventKind(word), kind);
  }
  // A word a newer Anthill may write is not guessed at.
  EXPECT_FALSE(ParseStepName("migrate").has_value());
  EXPECT_FALSE(ParseProgramEventKind("paused").has_value());
}

TEST(Records, HealthAndRunStateWords) {
  EXPECT_EQ(ToString(Health::kUnknown), "unknown");
  EXPECT_EQ(ToString(Health::kHealthy), "healthy");
  EXPECT_EQ(ToString(Health::kUnhealthy), "unhealthy");
  EXPECT_EQ(ToString(RunState::kStarting), "starting");
  EXPECT_EQ(ToString(RunState::kRunning), "running");
  EXPECT_EQ(ToString(RunState::kRestarting), "restarting");
  EXPECT_EQ(ToString(RunState::kStopped), "stopped");
  EXPECT_EQ(ToString(RunState::kDeploying), "deploying");
}

}  // namespace
}  // namespace anthill::store
