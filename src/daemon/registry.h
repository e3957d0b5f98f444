// The orchestrator's projects, as the API sees them (deploy::Controller):
// one ProjectRunner per project of the config, started only while this
// process holds the project. On SQLite (one process) it holds every project
// from the start. With several orchestrators on one PostgreSQL database
// (ownership.h), a project another holds shows as "elsewhere", and an
// action for it is forwarded through the database to its holder.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "deploy/controller.h"
#include "deploy/project_runner.h"
#include "queue/build_slots.h"
#include "store/async_record_store.h"
#include "store/project_ownership.h"

namespace anthill::daemon {

class Registry : public deploy::Controller {
 public:
  // `ctx.build_slots` is set to this registry's slots. Without `ownership`
  // every project is held here (Hold is still called, by Serve).
  Registry(deploy::Context ctx, const std::vector<config::Project>& projects,
           int max_parallel_builds, store::ProjectOwnership* ownership, store::OrchestratorId me);

  // Controller.
  std::vector<deploy::ProjectState> Projects() const override;
  std::vector<deploy::QueueState> Queue() const override;
  std::vector<deploy::HookTarget> HookTargets() const override;
  int max_parallel_builds() const override { return slots_.capacity(); }
  int builds_running() const override { return slots_.in_use(); }
  deploy::ActionOutcome Deploy(const std::string& project, const std::string& ref,
                               const std::string& actor) override;
  deploy::ActionOutcome Rollback(const std::string& project, const std::string& version,
                                 const std::string& actor) override;
  deploy::ActionOutcome Notify(const std::string& project, const std::string& ref,
                               const std::string& commit, store::Trigger trigger,
                               const std::string& actor) override;
  deploy::ActionOutcome Cancel(int64_t id, const std::string& actor) override;
  deploy::ActionOutcome StopProgram(const std::string& project, const std::string& actor) override;
  deploy::ActionOutcome StartProgram(const std::string& project, const std::string& actor) override;

  // The config's project names.
  std::vector<std::string> Names() const;
  // Names of the projects held here now.
  std::vector<std::string> Held() const;
  bool IsHeld(const std::string& project) const;
  // Starts `project`'s runner: this process holds it now. A runner still
  // stopping from an earlier hold is waited for first (see Tick).
  void Take(const std::string& project);
  // Stops `project`'s runner (its build is interrupted; what runs is left):
  // this process no longer holds it.
  void Lose(const std::string& project);
  // Replaces each stopped runner by a fresh one, and starts the ones taken
  // while their predecessor was still stopping. Called every second or so.
  void Tick();
  // Who holds each project, as last read (for Projects()).
  void SetHolders(std::map<std::string, std::string> machine_by_project) {
    holders_ = std::move(machine_by_project);
  }
  // Applies an action forwarded by another orchestrator (or by this one
  // before it held the project); returns what came of it, in words.
  std::string Apply(const store::ForwardedAction& a);

  // Stops every runner (Serve's clean stop).
  void Shutdown();
  // True once every started runner has stopped.
  bool AllDone() const;

 private:
  struct Slot {
    config::Project project;
    std::unique_ptr<deploy::ProjectRunner> runner;
    bool held = false;      // by this process
    bool started = false;   // runner->Start() was called
    bool stopping = false;  // runner->Shutdown() was called
  };
  Slot* Find(const std::string& name);
  const Slot* Find(const std::string& name) const;
  std::unique_ptr<deploy::ProjectRunner> MakeRunner(const config::Project& p);
  // Keeps `a` in the database for the project's holder, and answers at once.
  deploy::ActionOutcome Forward(store::ForwardedAction a);
  // `here` on the project's runner when this process holds the project (or
  // is alone on its record); else `a` is forwarded.
  deploy::ActionOutcome HereOrForward(
      store::ForwardedAction a,
      const std::function<deploy::ActionOutcome(deploy::ProjectRunner&)>& here);
  static store::ForwardedAction Action(const std::string& project, store::ForwardedKind kind,
                                       const std::string& actor);
  static deploy::ActionOutcome Unknown(const std::string& name);

  deploy::Context ctx_;
  queue::BuildSlots slots_;
  store::ProjectOwnership* ownership_;
  store::OrchestratorId me_;
  std::vector<Slot> slots_by_project_;  // config order
  // Runners of earlier holds, stopped; destroyed with the registry.
  std::vector<std::unique_ptr<deploy::ProjectRunner>> retired_;
  std::map<std::string, std::string> holders_;
};

}  // namespace anthill::daemon
