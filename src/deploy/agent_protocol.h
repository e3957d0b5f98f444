// What an orchestrator and an agent say to each other (README, "A fleet"):
//
//   GET  /api/v1/agents/{machine}/desired?generation=N&wait=30s
//        -> DesiredState as JSON, once the machine's generation is above N
//           (or the wait ran out: the same generation again)
//   POST /api/v1/agents/{machine}/reports   <- AgentReport (store/agent_fleet.h)
//        with each project's ProjectReport as JSON
//
// The desired state is level-triggered: it says what the machine is to have
// and run now, whole, never a list of commands, so an agent that missed an
// answer or was down converges by reading it again. Its generation only
// grows: an agent never goes back to an older one.
//
// Thread: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "config/config.h"
#include "store/agent_fleet.h"

namespace anthill::deploy {

// A release as an agent gets it: the artifact a builder made, unpacked
// into releases/<release>/ once its SHA-256 and size match.
struct AgentRelease {
  std::string release;  // dir name, "20261128T101500Z-1a2b3c4d5e6f"
  std::string version;  // "main-1a2b3c4d" or the tag
  std::string commit;   // 40 hex
  std::string ref;      // "refs/heads/main"
  std::string artifact_key;
  std::string sha256;  // 64 lowercase hex
  int64_t size = 0;
  bool operator==(const AgentRelease&) const = default;
};

// How an agent runs a project's program: supervise::ProgramSpec's portable
// part (the paths are the agent's own). env values and the health check's
// target may name the agent's `--env` values as ${KEY}.
struct AgentProgram {
  std::string run;
  int stop_signal = 15;
  Duration stop_timeout{10000};
  config::Project::Restart restart = config::Project::Restart::kOnFailure;
  config::HealthCheck health;
  std::vector<std::string> listen;
  bool ready_notify = false;
  int64_t log_max_size = 50LL << 20;
  std::vector<std::string> env;     // "KEY=value", the project's env, in order
  std::vector<std::string> shared;  // the project's shared paths
  bool operator==(const AgentProgram&) const = default;
};

// Where the agent downloads artifacts from: "orchestrator" (the API it
// polls, with its token) or an S3 location (with the agent's own
// credentials from its environment).
struct AgentArtifactStore {
  std::string store = "orchestrator";
  std::string endpoint;
  std::string region = "us-east-1";
};

// One project on one machine.
struct DesiredProject {
  std::string project;
  // The deployment whose rollout set this; the agent records its steps
  // under it.
  int64_t deployment_id = 0;
  std::vector<AgentRelease> fetch;  // to have in releases/ (phase 1)
  std::optional<AgentRelease> run;  // to run (phase 2); none: leave what runs
  // `run` is a return to a release that ran and passed before (recorded as
  // the program at once, not as a candidate).
  bool rollback = false;
  AgentProgram program;
};

struct DesiredState {
  int64_t generation = 0;
  AgentArtifactStore artifacts;
  std::vector<DesiredProject> projects;
};

// What an agent says of one project: what it has, the outcome of the newest
// run target it worked on, and what runs.
struct ProjectReport {
  std::string project;
  int64_t generation = 0;                           // of the desired state it acted on
  std::vector<std::string> fetched;                 // releases it has, checked
  std::map<std::string, std::string> fetch_failed;  // release -> why
  // The run target it worked on last: its deployment and release, and
  // "switching", "succeeded" (runs and stayed healthy), "failed" (and the
  // agent's own rollback's outcome is in run_error).
  int64_t run_deployment_id = 0;
  std::string run_release;
  std::string run_status;
  std::string run_error;
  // What runs now ("" when nothing).
  std::string running_release;
  std::string running_version;
  std::string running_commit;
  int64_t pid = 0;
  std::string health;  // store::ToString(Health)
  std::optional<TimePoint> since;
};

std::string ToJson(const DesiredProject& p);
Result<DesiredProject> ParseDesiredProject(std::string_view json);
std::string ToJson(const DesiredState& s);
// The same JSON, from each project's JSON as ToJson(DesiredProject) wrote
// it (a machine's rows as stored): an orchestrator answers thousands of
// polls at once and need not parse and write every project again. Each
// text must be a JSON object.
std::string DesiredStateJson(int64_t generation, const AgentArtifactStore& artifacts,
                             const std::vector<std::string_view>& project_jsons);
Result<DesiredState> ParseDesiredState(std::string_view json);
std::string ToJson(const ProjectReport& r);
Result<ProjectReport> ParseProjectReport(std::string_view json);
// A report as the agent POSTs it: {"id":..., "steps":[...], "states":[ProjectReport...]}.
std::string ToJson(const store::AgentReport& r);
Result<store::AgentReport> ParseAgentReport(std::string_view json);

// The program of `project` as agents run it; `min_healthy` raises its
// health.min_healthy_time (a rollout's batch waits for it).
AgentProgram ProgramOf(const config::Project& project, Duration min_healthy);

}  // namespace anthill::deploy
