#include "daemon/holding.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <map>

namespace anthill::daemon {

namespace asio = boost::asio;

ProjectHolding::ProjectHolding(asio::any_io_executor executor, store::ProjectOwnership& ownership,
                               store::AsyncRecordStore& record, Registry& registry,
                               store::OrchestratorId me, Options options)
    : executor_(std::move(executor)),
      ownership_(ownership),
      record_(record),
      registry_(registry),
      me_(std::move(me)),
      options_(options),
      wake_(std::make_unique<Event>(executor_)) {}

void ProjectHolding::Start() {
  if (running_) return;
  running_ = true;
  last_renewed_ = std::chrono::steady_clock::now();
  asio::co_spawn(
      executor_, [this]() -> asio::awaitable<void> { co_await Run(); }, asio::detached);
}

void ProjectHolding::Stop() {
  stopping_ = true;
  wake_->Set();
}

asio::awaitable<void> ProjectHolding::Run() {
  while (!stopping_) {
    co_await Turn();
    if (stopping_) break;
    wake_->Reset();
    co_await wake_->Wait(options_.every);
  }
  running_ = false;
}

asio::awaitable<void> ProjectHolding::Turn() {
  std::vector<std::string> names = registry_.Names();
  auto held = co_await ownership_.Hold(names, me_);
  if (stopping_) co_return;
  const auto now = std::chrono::steady_clock::now();
  if (!held.ok()) {
    if (!failing_)
      spdlog::warn("cannot renew the leases of this orchestrator's projects: {}", held.error());
    failing_ = true;
    if (now - last_renewed_ > options_.fence_after) {
      for (const auto& project : registry_.Held()) {
        spdlog::error(
            "project {}: not renewed for {} s: stopped deploying it here (its program keeps "
            "running) until this orchestrator holds it again",
            project, std::chrono::duration_cast<std::chrono::seconds>(now - last_renewed_).count());
        registry_.Lose(project);
      }
    }
    registry_.Tick();
    co_return;
  }
  if (failing_) spdlog::info("leases renewed again");
  failing_ = false;
  last_renewed_ = now;
  const std::set<std::string> holding(held->begin(), held->end());
  for (const auto& project : registry_.Held()) {
    if (holding.count(project) == 0) {
      spdlog::warn("project {}: another orchestrator holds it now: stopped deploying it here",
                   project);
      registry_.Lose(project);
    }
  }
  for (const auto& project : *held) {
    if (!registry_.IsHeld(project)) co_await TakeOver(project);
    if (stopping_) co_return;
  }

  auto holders = co_await ownership_.Holders();
  if (holders.ok()) {
    std::map<std::string, std::string> machines;
    for (const auto& h : *holders) {
      machines[h.project] = h.holder.machine;
      if (options_.artifacts_kept_here && !warned_shared_ && h.holder.id != me_.id) {
        warned_shared_ = true;
        spdlog::warn(
            "orchestrator {} shares this database, and artifacts are kept by each orchestrator "
            "([artifacts] store = \"orchestrator\"): builders upload to one of them, and a "
            "project taken over by another cannot be deployed from them; use a store all reach "
            "(store = \"s3://bucket/prefix\")",
            h.holder.machine);
      }
    }
    registry_.SetHolders(std::move(machines));
  }

  std::string me = me_.id;
  auto actions = co_await ownership_.TakeForwarded(me);
  if (!actions.ok()) {
    spdlog::warn("cannot read the actions passed on to this orchestrator: {}", actions.error());
  } else {
    for (const auto& a : *actions) {
      std::string answer = registry_.Apply(a);
      const int64_t id = a.id;
      Status answered = co_await ownership_.Answer(id, std::move(answer));
      if (!answered.ok()) {
        spdlog::warn("forwarded action {}: cannot record the answer: {}", id, answered.message());
      }
    }
  }
  registry_.Tick();
}

asio::awaitable<void> ProjectHolding::TakeOver(std::string project) {
  // Whatever was unfinished in the project belongs to an earlier holder,
  // which is gone (its lease ran out) or let go: it will not finish it.
  const std::string why = "the orchestrator running project " + project +
                          " stopped before it finished; " + me_.machine + " took it over";
  const TimePoint now = Now();
  auto interrupted = co_await record_.InterruptUnfinishedOfProject(now, project, why);
  if (!interrupted.ok()) {
    spdlog::error("project {}: cannot mark what its previous holder left unfinished: {}", project,
                  interrupted.error());
  } else if (*interrupted > 0) {
    spdlog::warn(
        "project {}: {} deployment(s) its previous orchestrator left unfinished: marked "
        "interrupted",
        project, *interrupted);
  }
  spdlog::info("project {}: held by this orchestrator ({}): watching and deploying it", project,
               me_.id);
  registry_.Take(project);
}

asio::awaitable<void> ProjectHolding::ReleaseAll() {
  std::vector<std::string> names = registry_.Names();
  std::string id = me_.id;
  Status released = co_await ownership_.Release(std::move(names), std::move(id));
  if (!released.ok()) {
    spdlog::warn(
        "cannot give up this orchestrator's projects: {} (they go to another once "
        "their leases run out)",
        released.message());
  }
}

}  // namespace anthill::daemon
