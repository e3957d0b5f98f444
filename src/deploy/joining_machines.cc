// A machine that becomes one of a project's targets after its last
// rollout (an agent registered since, or given the project's label) has
// never been told the project: nothing would reach it until the next push.
// The project's holder looks every few seconds while no deployment is
// queued, and deploys what runs on the others again, as a deployment of
// its own ("joined: web-5"); the machines that have it answer at once
// (their agents run it already), the new one fetches and starts it.
// A project whose last rollout found no machine at all is looked at again
// (a poll) once one answers.
#include <spdlog/spdlog.h>

#include <set>

#include "deploy/project_runner.h"
#include "deploy/rollout_plan.h"

namespace anthill::deploy {

namespace asio = boost::asio;

namespace {

// How often the targets are compared with the machines told the project.
constexpr Duration kLookForJoinersEvery{2000};
// A target heard from this recently answers (agents poll at least every 30 s).
constexpr Duration kAnswering{40000};

}  // namespace

asio::awaitable<void> ProjectRunner::WatchJoiningMachines() {
  store::AgentFleet* fleet = ctx_.fleet != nullptr ? ctx_.fleet->agents : nullptr;
  while (!shutting_down_ && fleet != nullptr) {
    joining_wake_->Reset();
    co_await joining_wake_->Wait(kLookForJoinersEvery);
    if (shutting_down_) break;
    if (intake_.queue().running() || intake_.queue().waiting()) continue;
    if (!on_agents_ && waiting_for_machines_.empty()) continue;
    auto agents = co_await fleet->Agents();
    if (!agents.ok() || shutting_down_) continue;
    if (!on_agents_) {
      // Nothing ran anywhere because there was no machine: once one that
      // answers matches, the project's rule is looked at again.
      bool answering = false;
      for (const store::AgentRow& a : TargetsOf(*agents, project_.machines, project_.labels)) {
        answering = answering || (a.last_seen_at && Now() - *a.last_seen_at < kAnswering);
      }
      if (answering && !waiting_for_machines_.empty()) {
        // Its failure was for want of machines, not the commit's.
        intake_.Unpin(waiting_for_machines_);
        waiting_for_machines_.clear();
        spdlog::info("project {}: machines to run it on answer now: looking for its commit",
                     project_.name);
        poller_.PollNow(store::Trigger::kPoll, "machines answer");
      }
      continue;
    }
    const store::Deployment runs = *on_agents_;
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
