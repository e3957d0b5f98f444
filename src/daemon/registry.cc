#include "daemon/registry.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <functional>

namespace anthill::daemon {

namespace asio = boost::asio;

Registry::Registry(deploy::Context ctx, const std::vector<config::Project>& projects,
                   int max_parallel_builds, store::ProjectOwnership* ownership,
                   store::OrchestratorId me)
    : ctx_(std::move(ctx)), slots_(max_parallel_builds), ownership_(ownership), me_(std::move(me)) {
  ctx_.build_slots = &slots_;
  slots_by_project_.reserve(projects.size());
  for (const auto& p : projects) {
    Slot s;
    s.project = p;
    s.runner = MakeRunner(p);
    slots_by_project_.push_back(std::move(s));
  }
}

std::unique_ptr<deploy::ProjectRunner> Registry::MakeRunner(const config::Project& p) {
  return std::make_unique<deploy::ProjectRunner>(ctx_, p);
}

Registry::Slot* Registry::Find(const std::string& name) {
  for (auto& s : slots_by_project_) {
    if (s.project.name == name) return &s;
  }
  return nullptr;
}

const Registry::Slot* Registry::Find(const std::string& name) const {
  for (const auto& s : slots_by_project_) {
    if (s.project.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string> Registry::Names() const {
  std::vector<std::string> out;
  for (const auto& s : slots_by_project_) out.push_back(s.project.name);
  return out;
}

std::vector<std::string> Registry::Held() const {
  std::vector<std::string> out;
  for (const auto& s : slots_by_project_) {
    if (s.held) out.push_back(s.project.name);
  }
  return out;
}

bool Registry::IsHeld(const std::string& project) const {
  const Slot* s = Find(project);
  return s != nullptr && s->held;
}

void Registry::Take(const std::string& project) {
  Slot* s = Find(project);
  if (s == nullptr || s->held) return;
  s->held = true;
  Tick();
}

void Registry::Lose(const std::string& project) {
  Slot* s = Find(project);
  if (s == nullptr || !s->held) return;
  s->held = false;
  if (s->started && !s->stopping) {
    s->runner->Shutdown();
    s->stopping = true;
  }
}

void Registry::Tick() {
  for (auto& s : slots_by_project_) {
    // A runner runs once: a stopped one is replaced, so that the project
    // can be taken again later.
    if (s.stopping && s.runner->done()) {
      // Kept, not destroyed: its supervisor's watch loops may still be
      // suspended on it until they next wake (a stopped runner holds
      // little; a project changes hands rarely).
      retired_.push_back(std::move(s.runner));
      s.runner = MakeRunner(s.project);
      s.started = false;
      s.stopping = false;
    }
    if (s.held && !s.started) {
      s.runner->Start();
      s.started = true;
    }
  }
}

void Registry::Shutdown() {
  for (auto& s : slots_by_project_) {
    s.held = false;
    if (s.started && !s.stopping) {
      s.runner->Shutdown();
      s.stopping = true;
    }
  }
}

bool Registry::AllDone() const {
  for (const auto& s : slots_by_project_) {
    if (s.started && !s.runner->done()) return false;
  }
  return true;
}

std::vector<deploy::ProjectState> Registry::Projects() const {
  std::vector<deploy::ProjectState> out;
  for (const auto& s : slots_by_project_) {
    auto holder = holders_.find(s.project.name);
    const std::string machine = holder == holders_.end() ? "" : holder->second;
    if (s.held || ownership_ == nullptr) {
      deploy::ProjectState state = s.runner->State();
      state.orchestrator = ownership_ == nullptr ? "" : me_.machine;
      out.push_back(std::move(state));
      continue;
    }
    deploy::ProjectState state;
    state.name = s.project.name;
    state.repo = s.project.repo;
    state.branch = s.project.tags.empty() ? s.project.branch : "";
    state.tags = s.project.tags;
    state.state = store::RunState::kElsewhere;
    state.orchestrator = machine;
    out.push_back(std::move(state));
  }
  return out;
}

std::vector<deploy::QueueState> Registry::Queue() const {
  std::vector<deploy::QueueState> out;
  for (const auto& s : slots_by_project_) {
    if (s.held) out.push_back(s.runner->Queue());
  }
  return out;
}

std::vector<deploy::HookTarget> Registry::HookTargets() const {
  std::vector<deploy::HookTarget> out;
  for (const auto& s : slots_by_project_) {
    const auto& p = s.project;
    out.push_back({p.name, p.repo, p.tags.empty() ? p.branch : "", p.tags, p.webhook_secret});
  }
  return out;
}

deploy::ActionOutcome Registry::Unknown(const std::string& name) {
  return deploy::ActionOutcome::Refused(StatusCode::kNotFound, "no project '" + name + "'");
}

deploy::ActionOutcome Registry::Forward(store::ForwardedAction a) {
  a.received_by = me_.id;
  auto holder = holders_.find(a.project);
  const std::string who = holder == holders_.end() || holder->second.empty()
                              ? "the orchestrator that takes it next"
                              : "orchestrator " + holder->second;
  // Said before `a` moves into the coroutine.
  const std::string said =
      "project " + a.project + " is run by " + who + ": the request was passed on to it";
  asio::co_spawn(
      ctx_.executor,
      [ownership = ownership_, a = std::move(a)]() -> asio::awaitable<void> {
        const std::string project = a.project;
        const std::string kind(store::ToString(a.kind));
        auto id = co_await ownership->Forward(a);
        if (!id.ok()) {
          spdlog::error("project {}: cannot pass the {} on to its holder: {}", project, kind,
                        id.error());
        } else {
          spdlog::info("project {}: {} passed on to its holder (forwarded action {})", project,
                       kind, *id);
        }
      },
      asio::detached);
  return deploy::ActionOutcome::Accepted(0, said);
}

deploy::ActionOutcome Registry::HereOrForward(
    store::ForwardedAction a,
    const std::function<deploy::ActionOutcome(deploy::ProjectRunner&)>& here) {
  Slot* s = Find(a.project);
  if (s == nullptr) return Unknown(a.project);
  if (s->held || ownership_ == nullptr) return here(*s->runner);
  return Forward(std::move(a));
}

store::ForwardedAction Registry::Action(const std::string& project, store::ForwardedKind kind,
                                        const std::string& actor) {
  store::ForwardedAction a;
  a.project = project;
  a.kind = kind;
  a.actor = actor;
  return a;
}

deploy::ActionOutcome Registry::Deploy(const std::string& project, const std::string& ref,
                                       const std::string& actor) {
  store::ForwardedAction a = Action(project, store::ForwardedKind::kDeploy, actor);
  a.ref = ref;
  return HereOrForward(std::move(a),
                       [&](deploy::ProjectRunner& r) { return r.RequestDeploy(ref, actor); });
}

deploy::ActionOutcome Registry::Rollback(const std::string& project, const std::string& version,
                                         const std::string& actor) {
  store::ForwardedAction a = Action(project, store::ForwardedKind::kRollback, actor);
  a.version = version;
  return HereOrForward(std::move(a),
                       [&](deploy::ProjectRunner& r) { return r.RequestRollback(version, actor); });
}

deploy::ActionOutcome Registry::Notify(const std::string& project, const std::string& ref,
                                       const std::string& commit, store::Trigger trigger,
                                       const std::string& actor) {
  store::ForwardedAction a = Action(project, store::ForwardedKind::kNotify, actor);
  a.ref = ref;
  a.commit = commit;
  a.trigger = std::string(store::ToString(trigger));
  return HereOrForward(std::move(a), [&](deploy::ProjectRunner& r) {
    return r.Notify(ref, commit, trigger, actor);
  });
}

deploy::ActionOutcome Registry::Cancel(int64_t id, const std::string& actor) {
  for (auto& s : slots_by_project_) {
    if (!s.held && ownership_ != nullptr) continue;
    if (auto out = s.runner->Cancel(id, actor)) return *out;
  }
  bool any_elsewhere = false;
  for (const auto& s : slots_by_project_) any_elsewhere = any_elsewhere || !s.held;
  if (ownership_ == nullptr || !any_elsewhere) {
    return deploy::ActionOutcome::Refused(
        StatusCode::kConflict,
        "deployment " + std::to_string(id) + " is not queued or running here", id);
  }
  // Its project may be another orchestrator's: which one is in the record.
  asio::co_spawn(
      ctx_.executor,
      [this, id, actor]() -> asio::awaitable<void> {
        auto row = co_await ctx_.record->GetDeployment(id);
        if (!row.ok() || !row->has_value()) {
          spdlog::warn("cancel of deployment {}: {}", id,
                       row.ok() ? "no such deployment" : row.error());
          co_return;
        }
        store::ForwardedAction a = Action((*row)->project, store::ForwardedKind::kCancel, actor);
        a.deployment_id = id;
        a.received_by = me_.id;
        auto forwarded = co_await ownership_->Forward(a);
        if (!forwarded.ok()) {
          spdlog::error("cancel of deployment {}: cannot pass it on: {}", id, forwarded.error());
        }
      },
      asio::detached);
  return deploy::ActionOutcome::Accepted(
      id, "deployment " + std::to_string(id) +
              " is not running here: the cancel was passed on to the orchestrator holding its "
              "project");
}

deploy::ActionOutcome Registry::StopProgram(const std::string& project, const std::string& actor) {
  return HereOrForward(Action(project, store::ForwardedKind::kStop, actor),
                       [&](deploy::ProjectRunner& r) { return r.StopProgram(actor); });
}

deploy::ActionOutcome Registry::StartProgram(const std::string& project, const std::string& actor) {
  return HereOrForward(Action(project, store::ForwardedKind::kStart, actor),
                       [&](deploy::ProjectRunner& r) { return r.StartProgram(actor); });
}

std::string Registry::Apply(const store::ForwardedAction& a) {
  deploy::ActionOutcome out;
  switch (a.kind) {
    case store::ForwardedKind::kDeploy:
      out = Deploy(a.project, a.ref, a.actor);
      break;
    case store::ForwardedKind::kRollback:
      out = Rollback(a.project, a.version, a.actor);
      break;
    case store::ForwardedKind::kNotify: {
      const store::Trigger trigger =
          store::ParseTrigger(a.trigger).value_or(store::Trigger::kNotify);
      out = Notify(a.project, a.ref, a.commit, trigger, a.actor);
      break;
    }
    case store::ForwardedKind::kCancel: {
      Slot* s = Find(a.project);
      std::optional<deploy::ActionOutcome> cancelled;
      if (s != nullptr && s->held) cancelled = s->runner->Cancel(a.deployment_id, a.actor);
      out = cancelled ? *cancelled
                      : deploy::ActionOutcome::Refused(
                            StatusCode::kConflict, "deployment " + std::to_string(a.deployment_id) +
                                                       " is not queued or running");
      break;
    }
    case store::ForwardedKind::kStop:
      out = StopProgram(a.project, a.actor);
      break;
    case store::ForwardedKind::kStart:
      out = StartProgram(a.project, a.actor);
      break;
  }
  spdlog::info("project {}: {} by {} (passed on by another orchestrator): {}", a.project,
               store::ToString(a.kind), a.actor, out.message);
  return out.ok() ? out.message : "refused: " + out.message;
}

}  // namespace anthill::daemon
