#include "deploy/artifact_pruning.h"

#include <spdlog/spdlog.h>

#include <set>

#include "artifact/prune.h"
#include "deploy/agent_protocol.h"

namespace anthill::deploy {

namespace {

// The releases machines run, and those unfinished deployments use, from
// the project's newest 1000 deployments.
boost::asio::awaitable<Result<std::set<std::string>>> ReleasesInUse(store::AsyncRecordStore* record,
                                                                    std::string project) {
  store::DeploymentFilter f;
  f.project = project;
  f.limit = 1000;
  auto list = co_await record->ListDeployments(f);
  if (!list.ok()) co_return list.status();
  std::set<std::string> in_use;
  std::set<std::string> machines_seen;
  using S = store::DeploymentStatus;
  for (const auto& d : *list) {
    if (d.status == S::kQueued || d.status == S::kRunning) {
      if (!d.release.empty()) in_use.insert(d.release);
      continue;
    }
    // Newest first: a machine's first succeeded one is what it runs.
    if (d.status == S::kSucceeded && machines_seen.insert(d.machine).second) {
      if (!d.release.empty()) in_use.insert(d.release);
    }
  }
  co_return in_use;
}

// Every release a machine's desired state names, to fetch or to run: an
// agent may still be on its way to it (or come back to it).
boost::asio::awaitable<Status> AddDesired(store::AgentFleet* agents, std::string project,
                                          std::set<std::string>& in_use) {
  if (agents == nullptr) co_return Status::Ok();
  auto rows = co_await agents->DesiredOfProject(project);
  if (!rows.ok()) co_return rows.status().Prefixed("the machines' desired state");
  for (const auto& row : *rows) {
    if (row.desired.empty()) continue;
    auto desired = ParseDesiredProject(row.desired);
    if (!desired.ok()) {
      co_return desired.status().Prefixed("the desired state of " + row.machine);
    }
    for (const AgentRelease& r : desired->fetch) in_use.insert(r.release);
    if (desired->run) in_use.insert(desired->run->release);
  }
  co_return Status::Ok();
}

}  // namespace

boost::asio::awaitable<int> PruneArtifacts(Fleet fleet, store::AsyncRecordStore* record,
                                           std::string project, int keep) {
  auto stored = co_await fleet.queue->ListArtifacts(project);
  if (!stored.ok()) {
    spdlog::warn("project {}: pruning artifacts: {}", project, stored.error());
    co_return 0;
  }
  if (static_cast<int>(stored->size()) <= std::max(keep, 1)) co_return 0;
  auto in_use = co_await ReleasesInUse(record, project);
  if (!in_use.ok()) {
    spdlog::warn("project {}: pruning artifacts: {}", project, in_use.error());
    co_return 0;
  }
  Status desired = co_await AddDesired(fleet.agents, project, *in_use);
  if (!desired.ok()) {
    spdlog::warn("project {}: pruning artifacts: {}", project, desired.message());
    co_return 0;
  }
  std::vector<artifact::StoredArtifact> artifacts;
  for (const auto& job : *stored) {
    artifacts.push_back(
        {job.id, job.artifact_key, job.release, job.finished_at.value_or(job.queued_at)});
  }
  const auto doomed = artifact::ChooseArtifactsToPrune(artifacts, *in_use, keep);
  int removed = 0;
  for (const auto& a : doomed) {
    // Every job naming the key lets go of it before its bytes go.
    bool forgotten = true;
    for (const auto& job : *stored) {
      if (job.artifact_key != a.key) continue;
      const int64_t id = job.id;
      Status s = co_await fleet.queue->ForgetArtifact(id);
      if (!s.ok() && s.code() != StatusCode::kNotFound) {
        spdlog::warn("project {}: pruning artifact {}: {}", project, a.key, s.message());
        forgotten = false;
      }
    }
    if (!forgotten) continue;
    artifact::ArtifactRef ref{a.key, "", 0};
    Status gone = co_await fleet.artifacts->Remove(ref);
    if (!gone.ok()) {
      spdlog::warn("project {}: pruning artifact {}: {}", project, a.key, gone.message());
      continue;
    }
    ++removed;
  }
  if (removed > 0) {
    spdlog::info("project {}: {} old artifact(s) pruned (keep_releases = {})", project, removed,
                 keep);
  }
  co_return removed;
}

}  // namespace anthill::deploy
