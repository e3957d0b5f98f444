// A machine that becomes one of a project's targets after its last
// rollout (an agent registered since, or given the project's label) has
// never been told the project: nothing would reach it until the next push.
// The project's holder looks every few seconds while no deployment is
// queued, and deploys what runs on the others again, as a deployment of
// its own ("joined: web-5"); the machines that have it answer at once
// (their agents run it already), the new one fetches and starts it.
#include <spdlog/spdlog.h>

#include <set>

#include "deploy/project_runner.h"
#include "deploy/rollout_plan.h"

namespace anthill::deploy {

namespace asio = boost::asio;

namespace {

// How often the targets are compared with the machines told the project.
constexpr Duration kLookForJoinersEvery{2000};

}  // namespace

asio::awaitable<void> ProjectRunner::WatchJoiningMachines() {
  store::AgentFleet* fleet = ctx_.fleet != nullptr ? ctx_.fleet->agents : nullptr;
  while (!shutting_down_ && fleet != nullptr) {
    joining_wake_->Reset();
    co_await joining_wake_->Wait(kLookForJoinersEvery);
    if (shutting_down_) break;
    if (!on_agents_ || intake_.queue().running() || intake_.queue().waiting()) continue;
    const store::Deployment runs = *on_agents_;
    auto agents = co_await fleet->Agents();
    if (!agents.ok() || shutting_down_) continue;
    std::string project = project_.name;
    auto rows = co_await fleet->DesiredOfProject(project);
    if (!rows.ok() || shutting_down_) continue;
    std::set<std::string> told;
    for (const store::DesiredRow& row : *rows) {
      if (!row.desired.empty()) told.insert(row.machine);
    }
    if (offered_for_ != runs.id) {
      offered_.clear();
      offered_for_ = runs.id;
    }
    std::vector<std::string> joined;
    for (const store::AgentRow& a : TargetsOf(*agents, project_.machines, project_.labels)) {
      // Offered once per release: a machine the deployment failed on is
      // not tried again and again (a person deploys by hand).
      if (told.count(a.name) == 0 && offered_.insert(a.name).second) joined.push_back(a.name);
    }
    if (joined.empty() || intake_.queue().running() || intake_.queue().waiting()) continue;
    queue::Request r;
    r.trigger = store::Trigger::kManual;
    r.manual = true;  // the commit runs already: not dropped as redundant
    r.actor = "joined: " + JoinNames(joined);
    r.target = store::TargetOf(runs);
    spdlog::info("project {}: {} joined its targets: deploying {} to it", project_.name,
                 JoinNames(joined), runs.to_version);
    (void)intake_.Enqueue(std::move(r), WhatRuns());
  }
  --loops_running_;
}

}  // namespace anthill::deploy
