#include "deploy/rollout_plan.h"

#include <fnmatch.h>

#include <algorithm>

#include "base/strings.h"

namespace anthill::deploy {

namespace {

bool MatchesAny(const std::string& name, const std::vector<std::string>& globs) {
  if (globs.empty()) return true;
  // The same glob as a project's `tags` (git/): fnmatch, no flags.
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& glob) {
    return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
  });
}

bool HasAll(const std::vector<std::string>& have, const std::vector<std::string>& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&](const std::string& label) {
    return std::find(have.begin(), have.end(), label) != have.end();
  });
}

std::string Bracketed(const std::vector<std::string>& words) {
  return "[" + JoinNames(words) + "]";
}

}  // namespace

std::vector<store::AgentRow> TargetsOf(const std::vector<store::AgentRow>& agents,
                                       const std::vector<std::string>& machines,
                                       const std::vector<std::string>& labels) {
  std::vector<store::AgentRow> out;
  for (const auto& a : agents) {
    if (a.revoked_at || !MatchesAny(a.name, machines) || !HasAll(a.labels, labels)) continue;
    out.push_back(a);
  }
  std::sort(out.begin(), out.end(),
            [](const store::AgentRow& x, const store::AgentRow& y) { return x.name < y.name; });
  return out;
}

std::string NoTargetsMessage(const std::vector<store::AgentRow>& agents,
                             const std::vector<std::string>& machines,
                             const std::vector<std::string>& labels) {
  std::string rule;
  if (!machines.empty()) rule += " machines " + Bracketed(machines);
  if (!labels.empty()) rule += " labels " + Bracketed(labels);
  std::string known;
  std::vector<store::AgentRow> sorted = agents;
  std::sort(sorted.begin(), sorted.end(),
            [](const store::AgentRow& x, const store::AgentRow& y) { return x.name < y.name; });
  for (const auto& a : sorted) {
    if (!known.empty()) known += ", ";
    known += a.name + " " + Bracketed(a.labels) + (a.revoked_at ? " revoked" : "");
  }
  return "no agent matches" + rule +
         (known.empty() ? " (no agent is registered: anthill agents add NAME)"
                        : " (agents: " + known + ")");
}

std::vector<int> BatchSizes(int targets, const config::Rollout& rollout) {
  std::vector<int> out;
  if (targets <= 0) return out;
  int size = rollout.batch_count;
  if (size <= 0) {
    const int64_t percent = std::clamp(rollout.batch_percent, 1, 100);
    size = static_cast<int>((percent * targets + 99) / 100);
  }
  size = std::max(size, 1);
  for (int left = targets; left > 0; left -= size) out.push_back(std::min(size, left));
  return out;
}

std::vector<std::vector<std::string>> Batches(const std::vector<std::string>& names,
                                              const config::Rollout& rollout) {
  std::vector<std::vector<std::string>> out;
  size_t next = 0;
  for (int size : BatchSizes(static_cast<int>(names.size()), rollout)) {
    out.emplace_back(names.begin() + static_cast<std::ptrdiff_t>(next),
                     names.begin() + static_cast<std::ptrdiff_t>(next + size));
    next += static_cast<size_t>(size);
  }
  return out;
}

FetchState FetchOf(const ProjectReport& report, const std::string& release) {
  // Having it wins over an older failure to get it (a retry that worked).
  if (std::find(report.fetched.begin(), report.fetched.end(), release) != report.fetched.end()) {
    return {FetchState::kFetched, ""};
  }
  if (auto it = report.fetch_failed.find(release); it != report.fetch_failed.end()) {
    return {FetchState::kFailed, it->second};
  }
  return {};
}

RunState RunOf(const ProjectReport& report, int64_t deployment_id, const std::string& release) {
  if (report.run_deployment_id != deployment_id || report.run_release != release) return {};
  if (report.run_status == "succeeded") return {RunState::kSucceeded, ""};
  if (report.run_status == "failed") return {RunState::kFailed, report.run_error};
  return {RunState::kSwitching, ""};
}

std::string JoinNames(const std::vector<std::string>& names) {
  return anthill::JoinNames(names, 10);
}

}  // namespace anthill::deploy
