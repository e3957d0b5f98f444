// Anthill's vocabulary: what it records (deployments, their steps, the
// processes it started, program events) and the words they are made of
// (statuses, triggers, step names, event kinds, health, a project's state).
// Every enum maps one-to-one to the API's and the database's words, through
// the one table per enum in records.cc. Thread: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"
#include "store/candidate.h"

namespace anthill::store {

enum class DeploymentStatus {
  kQueued,
  kRunning,
  kSucceeded,
  kFailed,
  kRolledBack,
  kCancelled,
  kInterrupted
};
enum class StepStatus { kRunning, kSucceeded, kFailed, kCancelled, kInterrupted };
enum class Trigger { kPoll, kWebhook, kNotify, kManual, kRollback };
// The steps of a deployment, in the order they may run. kUnknown: a word this
// build does not know, read from a record a newer Anthill wrote.
enum class StepName {
  kFetch,
  kBuild,
  kTest,
  kRelease,
  kUpload,    // a builder packs the release and uploads it to the artifact store
  kDownload,  // a machine downloads an artifact, verifies and unpacks it
  kStop,
  kStart,
  kHealthcheck,
  kRollback,
  kUnknown
};
// What happened to a program outside a deployment.
enum class ProgramEventKind {
  kExited,
  kRestarted,
  kRestartFailed,
  kStopped,
  kStarted,
  kStartFailed,
  kUnhealthy,
  kHealthy,
  kUnknown
};
// The running program's health: unknown until it passes its check (and when
// nothing runs), then healthy or unhealthy as the health watch sees it.
enum class Health { kUnknown, kHealthy, kUnhealthy };
// A project as the API shows it: recovering after start-up, deploying,
// running, waiting to restart its program, or stopped (nothing runs).
// kElsewhere: another orchestrator holds the project (project_ownership.h).
enum class RunState { kStarting, kDeploying, kRunning, kRestarting, kStopped, kElsewhere };

std::string_view ToString(DeploymentStatus s);  // "rolled_back"
std::string_view ToString(StepStatus s);        // "running"
std::string_view ToString(Trigger t);           // "poll"
std::string_view ToString(StepName n);          // "healthcheck"
std::string_view ToString(ProgramEventKind k);  // "restart_failed"
std::string_view ToString(Health h);            // "unhealthy"
std::string_view ToString(RunState s);          // "deploying"
std::optional<DeploymentStatus> ParseDeploymentStatus(std::string_view s);
std::optional<StepStatus> ParseStepStatus(std::string_view s);
std::optional<Trigger> ParseTrigger(std::string_view s);
std::optional<StepName> ParseStepName(std::string_view s);
std::optional<ProgramEventKind> ParseProgramEventKind(std::string_view s);
// True for succeeded, failed, rolled_back, cancelled, interrupted.
bool IsFinished(DeploymentStatus s);

struct Step {
  int64_t id = 0;
  int64_t deployment_id = 0;
  StepName name = StepName::kUnknown;
  StepStatus status = StepStatus::kRunning;
  TimePoint started_at{};
  std::optional<TimePoint> finished_at;
  std::string error;  // empty unless failed
  // Where it ran when that is not the deployment's machine: the agent's, in
  // a fleet rollout (store/agent_fleet.h); "" otherwise.
  std::string machine;
};

struct Deployment {
  int64_t id = 0;
  std::string project;
  std::string machine;
  std::string from_version;  // empty for a project's first deployment
  std::string to_version;    // "<branch>-<sha8>" or the tag name
  std::string from_commit;   // 40 hex or empty
  std::string to_commit;     // 40 hex
  std::string ref;           // "refs/heads/main" or "refs/tags/release-1"
  Trigger trigger = Trigger::kPoll;
  std::string actor;  // "poll", a user, a pusher
  DeploymentStatus status = DeploymentStatus::kQueued;
  TimePoint started_at{};
  std::optional<TimePoint> finished_at;
  std::string error;        // why it failed / rolled back
  std::string release;      // release dir name, once made
  std::vector<Step> steps;  // in order of start; filled by reads
};

// What a deployment deploys (ref, to_commit, to_version), as a candidate.
Candidate TargetOf(const Deployment& d);
void SetTarget(Deployment& d, const Candidate& c);

// The program Anthill started for a project on one machine (MachineStore):
// one row per (machine, project) at most.
struct Process {
  std::string project;
  int64_t pid = 0;
  int64_t pgid = 0;
  unsigned long long start_ticks = 0;  // /proc start time: guards against pid reuse
  std::string release;                 // release dir name it runs from
  std::string version;
  std::string commit;
  int64_t deployment_id = 0;
  TimePoint started_at{};
};

// A commit that polls and pushes must not deploy by themselves: its
// deployment failed, or a rollback (or a cancel) left it. Only a deploy by
// hand of that commit lifts a pin.
struct Pin {
  std::string project;
  std::string commit;  // 40 hex
  std::string reason;  // "failed in deployment 12", "rolled back from by alice"
  TimePoint at{};
};

// One webhook delivery that passed its signature check, stored raw before it
// is acted on. (source, delivery_id) is unique when delivery_id is set, so a
// forge's retry of the same delivery is recognised and ignored.
struct HookEvent {
  int64_t id = 0;
  TimePoint received_at{};
  std::string source;       // "github", "gitlab", "gitea", "generic"
  std::string delivery_id;  // the forge's delivery id; may be empty
  std::string event;        // the forge's event name
  std::string repository;   // display name or URL from the payload
  std::string ref;
  std::string commit;
  std::string pusher;
  std::string verdict;  // what Anthill did: "deployment 12 queued for hello", "ignored: ..."
  std::string body;     // the raw body, exactly as received
};

// Something that happened to a project's program outside a deployment: it
// exited on its own, was restarted, stopped or started by hand.
struct ProgramEvent {
  int64_t id = 0;
  std::string project;
  TimePoint at{};
  ProgramEventKind kind = ProgramEventKind::kUnknown;
  std::string version;
  int64_t pid = 0;
  std::string detail;  // "killed by SIGSEGV after 3.2 s up", "next start in 4 s"
};

struct DeploymentFilter {
  std::string project;  // empty: any
  std::string machine;  // empty: any
  std::optional<DeploymentStatus> status;
  int64_t before_id = 0;  // >0: only ids below it (keyset paging, newest first)
  int64_t after_id = 0;   // >0: only ids above it: the `limit` oldest of them, still
                          // returned newest first (the page before, when paging back)
  int limit = 50;         // clamped to [1, 1000]
  // Agents' steps (a rollout over 10,000 machines has 40,000) folded into
  // one per step name: machine "N machines", the earliest start, the
  // latest end (none while one runs), the status running > failed >
  // interrupted > the rest, a failed one's error. The orchestrator's own
  // steps stay as they are. For listings; stores without agents ignore it.
  bool fold_agent_steps = false;
};

}  // namespace anthill::store
