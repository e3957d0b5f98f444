#include "store/records.h"

#include <array>
#include <utility>

namespace anthill::store {

namespace {

template <typename E, size_t N>
std::optional<E> Lookup(const std::array<std::pair<E, std::string_view>, N>& table,
                        std::string_view word) {
  for (const auto& [e, w] : table) {
    if (w == word) return e;
  }
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view Word(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [x, w] : table) {
    if (x == e) return w;
  }
  return "unknown";
}

// The one place where status enums meet the API's words.
constexpr std::array<std::pair<DeploymentStatus, std::string_view>, 7> kDeploymentWords{{
    {DeploymentStatus::kQueued, "queued"},
    {DeploymentStatus::kRunning, "running"},
    {DeploymentStatus::kSucceeded, "succeeded"},
    {DeploymentStatus::kFailed, "failed"},
    {DeploymentStatus::kRolledBack, "rolled_back"},
    {DeploymentStatus::kCancelled, "cancelled"},
    {DeploymentStatus::kInterrupted, "interrupted"},
}};
constexpr std::array<std::pair<StepStatus, std::string_view>, 5> kStepWords{{
    {StepStatus::kRunning, "running"},
    {StepStatus::kSucceeded, "succeeded"},
    {StepStatus::kFailed, "failed"},
    {StepStatus::kCancelled, "cancelled"},
    {StepStatus::kInterrupted, "interrupted"},
}};
constexpr std::array<std::pair<Trigger, std::string_view>, 5> kTriggerWords{{
    {Trigger::kPoll, "poll"},
    {Trigger::kWebhook, "webhook"},
    {Trigger::kNotify, "notify"},
    {Trigger::kManual, "manual"},
    {Trigger::kRollback, "rollback"},
}};

constexpr std::array<std::pair<StepName, std::string_view>, 11> kStepNames{{
    {StepName::kFetch, "fetch"},
    {StepName::kBuild, "build"},
    {StepName::kTest, "test"},
    {StepName::kRelease, "release"},
    {StepName::kUpload, "upload"},
    {StepName::kDownload, "download"},
    {StepName::kStop, "stop"},
    {StepName::kStart, "start"},
    {StepName::kHealthcheck, "healthcheck"},
    {StepName::kRollback, "rollback"},
    {StepName::kUnknown, "unknown"},
}};
constexpr std::array<std::pair<ProgramEventKind, std::string_view>, 9> kEventKinds{{
    {ProgramEventKind::kExited, "exited"},
    {ProgramEventKind::kRestarted, "restarted"},
    {ProgramEventKind::kRestartFailed, "restart_failed"},
    {ProgramEventKind::kStopped, "stopped"},
    {ProgramEventKind::kStarted, "started"},
    {ProgramEventKind::kStartFailed, "start_failed"},
    {ProgramEventKind::kUnhealthy, "unhealthy"},
    {ProgramEventKind::kHealthy, "healthy"},
    {ProgramEventKind::kUnknown, "unknown"},
}};
constexpr std::array<std::pair<Health, std::string_view>, 3> kHealthWords{{
    {Health::kUnknown, "unknown"},
    {Health::kHealthy, "healthy"},
    {Health::kUnhealthy, "unhealthy"},
}};
constexpr std::array<std::pair<RunState, std::string_view>, 6> kRunStates{{
    {RunState::kStarting, "starting"},
    {RunState::kDeploying, "deploying"},
    {RunState::kRunning, "running"},
    {RunState::kRestarting, "restarting"},
    {RunState::kStopped, "stopped"},
    {RunState::kElsewhere, "elsewhere"},
}};

}  // namespace

std::string_view ToString(DeploymentStatus s) { return Word(kDeploymentWords, s); }
std::string_view ToString(StepStatus s) { return Word(kStepWords, s); }
std::string_view ToString(Trigger t) { return Word(kTriggerWords, t); }
std::string_view ToString(StepName n) { return Word(kStepNames, n); }
std::string_view ToString(ProgramEventKind k) { return Word(kEventKinds, k); }
std::string_view ToString(Health h) { return Word(kHealthWords, h); }
std::string_view ToString(RunState s) { return Word(kRunStates, s); }
std::optional<DeploymentStatus> ParseDeploymentStatus(std::string_view s) {
  return Lookup(kDeploymentWords, s);
}
std::optional<StepStatus> ParseStepStatus(std::string_view s) { return Lookup(kStepWords, s); }
std::optional<Trigger> ParseTrigger(std::string_view s) { return Lookup(kTriggerWords, s); }
std::optional<StepName> ParseStepName(std::string_view s) { return Lookup(kStepNames, s); }
std::optional<ProgramEventKind> ParseProgramEventKind(std::string_view s) {
  return Lookup(kEventKinds, s);
}

Candidate TargetOf(const Deployment& d) { return {d.ref, d.to_commit, d.to_version}; }

void SetTarget(Deployment& d, const Candidate& c) {
  d.ref = c.ref;
  d.to_commit = c.commit;
  d.to_version = c.version;
}

bool IsFinished(DeploymentStatus s) {
  return s != DeploymentStatus::kQueued && s != DeploymentStatus::kRunning;
}

}  // namespace anthill::store
