// One project's life: watch its repository, deploy new commits through the
// steps of ARCHITECTURE.md, record each step, keep its program running.
//
// Thread: the io_context thread owns a ProjectRunner and everything it
// touches. One coroutine per project: polling and deploying never overlap
// within a project, so no state here needs a lock.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "base/event.h"
#include "config/config.h"
#include "deploy/controller.h"
#include "git/git.h"
#include "os/command.h"
#include "release/releases.h"
#include "store/store.h"
#include "supervise/program.h"

namespace anthill::deploy {

// What every project shares: the store, where data lives, who we are.
struct Context {
  boost::asio::any_io_executor executor;
  store::Store* store = nullptr;
  std::filesystem::path data_dir;
  std::string machine;
};

// A commit that may be deployed.
struct Candidate {
  std::string ref;     // "refs/heads/main" or "refs/tags/release-3"
  std::string commit;  // 40 hex
  std::string version; // label
};

class ProjectRunner {
 public:
  ProjectRunner(Context ctx, config::Project project);
  ~ProjectRunner();

  const config::Project& project() const { return project_; }

  // Adopts the program a previous Anthill started (or starts the current
  // release again), then polls and deploys until Shutdown().
  void Start();
  // Stops polling; a build or test in flight is stopped and its deployment
  // recorded as interrupted. The running program is left alone.
  void Shutdown();

  ProjectState State() const;
  // True once Shutdown() has taken effect and nothing of this project is in flight.
  bool done() const { return done_; }

 private:
  boost::asio::awaitable<void> Loop();
  boost::asio::awaitable<void> Recover();
  boost::asio::awaitable<Result<std::optional<Candidate>>> Poll();
  boost::asio::awaitable<void> Deploy(const Candidate& c, store::Trigger trigger,
                                      const std::string& actor);

  // Pipeline pieces (pipeline.cc).
  struct Attempt;
  boost::asio::awaitable<Status> Prepare(Attempt& a);
  boost::asio::awaitable<Status> SwapIn(Attempt& a);
  boost::asio::awaitable<Status> RollBack(Attempt& a, const std::string& reason);
  boost::asio::awaitable<Status> StartRelease(const std::string& release, const std::string& ref,
                                              const std::string& version,
                                              const std::string& commit);

  std::filesystem::path ProjectDir() const;
  std::filesystem::path BuildLog(int64_t deployment_id) const;
  std::filesystem::path AppLog() const;
  std::vector<std::string> Environment(const Candidate& c, const std::string& release_dir) const;
  Duration NextPollDelay();

  Context ctx_;
  config::Project project_;
  git::Git git_;
  release::Releases releases_;
  std::mt19937 rng_;

  // The program that runs now, and what it runs.
  std::shared_ptr<supervise::Program> program_;
  std::string version_, commit_, release_;
  std::optional<TimePoint> started_at_;
  bool healthy_ = false;

  std::string state_ = "starting";
  // The last commit whose deployment failed or rolled back: polling does not
  // try it again; a newer commit (or a manual deploy) is needed.
  std::string pinned_out_commit_;
  int64_t last_deployment_id_ = 0;
  std::string last_deployment_status_;
  std::string last_error_;
  int poll_failures_ = 0;

  bool shutting_down_ = false;
  bool done_ = false;  // Loop() has returned
  std::string ref_;    // the ref the running version came from
  std::shared_ptr<os::CommandStopper> stopper_;
  std::unique_ptr<Event> wake_;
};

}  // namespace anthill::deploy
