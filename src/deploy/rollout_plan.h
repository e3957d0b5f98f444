// The pure half of a rollout (rollout.h): which agents a project's release
// goes to, in which batches, and what an agent's report says of a release
// it was asked to fetch or to run. No store, no clock.
//
// Thread: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "deploy/agent_protocol.h"
#include "store/agent_fleet.h"

namespace anthill::deploy {

// The agents `project` runs on: not revoked, whose name matches one of
// `machines` (fnmatch globs; any name when there are none) and who have
// every one of `labels`; by name.
std::vector<store::AgentRow> TargetsOf(const std::vector<store::AgentRow>& agents,
                                       const std::vector<std::string>& machines,
                                       const std::vector<std::string>& labels);

// Why there is no target, naming the rule and the agents known:
//   "no agent matches machines [web-*] labels [web] (agents: db-1 [db],
//    web-9 [web] revoked)"
std::string NoTargetsMessage(const std::vector<store::AgentRow>& agents,
                             const std::vector<std::string>& machines,
                             const std::vector<std::string>& labels);

// How many machines each batch of `targets` switches: `batch_count` each,
// else ceil(batch_percent * targets / 100), at least 1; the last batch
// takes what is left. Empty for no targets.
std::vector<int> BatchSizes(int targets, const config::Rollout& rollout);

// `names` (in their order) cut into batches of BatchSizes.
std::vector<std::vector<std::string>> Batches(const std::vector<std::string>& names,
                                              const config::Rollout& rollout);

// What a report says of a release the machine was to fetch.
struct FetchState {
  enum Kind { kPending, kFetched, kFailed };
  Kind kind = kPending;
  std::string error;  // kFailed: the agent's words
};
FetchState FetchOf(const ProjectReport& report, const std::string& release);

// What a report says of the run of `release` that deployment
// `deployment_id` asked for: pending until the agent reports that very
// run (an older run's outcome, or another release's, says nothing of it).
struct RunState {
  enum Kind { kPending, kSwitching, kSucceeded, kFailed };
  Kind kind = kPending;
  std::string error;  // kFailed: the agent's words ("" when it gave none)
};
RunState RunOf(const ProjectReport& report, int64_t deployment_id, const std::string& release);

// "a, b, c"; past 11 names, the first 10 and "and N more".
std::string JoinNames(const std::vector<std::string>& names);

}  // namespace anthill::deploy
