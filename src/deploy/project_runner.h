// One project's life: watch its repository, queue deployments (coalescing to
// the newest), run them through the steps of ARCHITECTURE.md, record each
// step, keep its program running, and take manual deploys and rollbacks.
//
// Thread: the io_context thread owns a ProjectRunner and everything it
// touches. Two coroutines per project: the poller (finds new commits and
// offers them to the queue) and the worker (runs the queue, one deployment at
// a time). They share state only between co_awaits, so no lock is needed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "base/event.h"
#include "config/config.h"
#include "deploy/controller.h"
#include "git/git.h"
#include "os/command.h"
#include "queue/build_slots.h"
#include "queue/project_queue.h"
#include "release/releases.h"
#include "store/store.h"
#include "supervise/notify_socket.h"
#include "supervise/health.h"
#include "supervise/program.h"

namespace anthill::deploy {

// What every project shares: the store, where data lives, who we are, and
// the global bound on builds.
struct Context {
  boost::asio::any_io_executor executor;
  store::Store* store = nullptr;
  std::filesystem::path data_dir;
  std::string machine;
  queue::BuildSlots* build_slots = nullptr;
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
  QueueState Queue() const;
  // True once Shutdown() has taken effect and nothing of this project is in flight.
  bool done() const { return loops_running_ == 0 && started_; }

  // Actions (see Controller).
  ActionOutcome RequestDeploy(const std::string& ref, const std::string& actor);
  ActionOutcome RequestRollback(const std::string& version, const std::string& actor);
  ActionOutcome Notify(const std::string& ref, const std::string& commit, store::Trigger trigger,
                       const std::string& actor);
  // Cancels deployment `id` if it is this project's; nullopt when it is not.
  std::optional<ActionOutcome> Cancel(int64_t id, const std::string& actor);
  // Stops the program on purpose (it stays stopped, across Anthill restarts,
  // until StartProgram or a new deployment), or starts the current release.
  ActionOutcome StopProgram(const std::string& actor);
  ActionOutcome StartProgram(const std::string& actor);

 private:
  struct Attempt;

  boost::asio::awaitable<void> Run();
  boost::asio::awaitable<void> PollLoop();
  boost::asio::awaitable<void> WorkLoop();
  boost::asio::awaitable<void> Recover();
  // Watches the running program; one that exits on its own is started again
  // per `restart`, with backoff (1 s doubling to 60 s, reset after 60 s up).
  boost::asio::awaitable<void> SuperviseLoop();
  void RecordEvent(const std::string& kind, int64_t pid, const std::string& detail);
  // Kills what a previous life left running in this project's dirs, except
  // the process group `keep`: a program started but not yet recorded (cwd in
  // a release), and the process group of a build that was interrupted (as
  // workspace.dirty names it). A build tool's own server (Bazel, Gradle) that
  // left the build's process group is not a leftover.
  boost::asio::awaitable<void> KillOrphans(pid_t keep);
  // A program a deployment started that never passed its health check
  // (Anthill stopped during it) is not trusted after a restart: it is
  // stopped, and what ran before is kept or started again.
  boost::asio::awaitable<void> StopUnverified();
  // A rollback a person asked for that Anthill stopped during (or before it
  // started) is asked for again: it is what they wanted running.
  void FinishInterruptedRollback();
  // A rollback to the release deployment `made` built (no build, by hand).
  static queue::Request RollbackTo(const store::Deployment& made, const std::string& actor);
  // Pins a commit out of automatic deploys (kept in the store), or lifts it.
  void Pin(const std::string& commit, const std::string& reason);
  void Unpin(const std::string& commit);
  // A deployment that would only restart what runs or is being deployed is
  // dropped, recorded cancelled with why. True when it dropped `r`.
  bool DropIfRedundant(const queue::Request& r, const Candidate& c);
  boost::asio::awaitable<Result<std::optional<Candidate>>> Poll();
  // Resolves a ref given by a person ("main", "release-3", "refs/tags/x";
  // empty: the project's rule) to a candidate.
  boost::asio::awaitable<Result<Candidate>> Resolve(const std::string& ref);

  // The queue.
  ActionOutcome Enqueue(queue::Request r);
  // Offers an automatically found commit unless it is already running, queued
  // or pinned out; returns what happened.
  ActionOutcome OfferAutomatic(const Candidate& c, store::Trigger trigger,
                               const std::string& actor);
  void RecordCancelled(int64_t id, const std::string& why);

  // Pipeline pieces (pipeline.cc).
  boost::asio::awaitable<void> Execute(queue::Request r);
  boost::asio::awaitable<Status> BuildRelease(Attempt& a);
  boost::asio::awaitable<bool> AcquireBuildSlot();
  boost::asio::awaitable<Status> Prepare(Attempt& a);
  boost::asio::awaitable<Status> SwapIn(Attempt& a);
  boost::asio::awaitable<Status> RollBack(Attempt& a, const std::string& reason);
  // Starts `release` and records its process. `verified`: the release ran
  // and passed its check before (a rollback, a restart); else the process is
  // recorded as a candidate until PromoteCandidate.
  boost::asio::awaitable<Status> StartRelease(const std::string& release, const std::string& ref,
                                              const std::string& version,
                                              const std::string& commit, bool verified = true);
  // The candidate started by a deployment passed its check: it is the
  // program now, also after a restart of Anthill.
  void PromoteCandidate();
  // The last lines the program wrote since it started, for errors
  // ("exited during health check (exit 1); its last output: ...").
  std::string OutputSinceStart() const;
  // "; the data dir /srv/anthill has 0 bytes free" when it is (nearly) full.
  std::string DiskFullHint() const;
  bool Cancelled() const { return shutting_down_ || !cancelled_by_.empty(); }
  // Zero-downtime (`listen` set): the sockets Anthill holds for the program.
  Status EnsureListeners();
  boost::asio::awaitable<Status> SwapInWithoutDowntime(Attempt& a);
  // Until the new program is ready: READY=1 (ready = "notify") or its health
  // check; fails when it exits first or the health timeout passes.
  boost::asio::awaitable<Status> WaitReady();
  // After the new program first passed: it must keep running and keep
  // passing its probe for health.min_healthy_time, or this fails.
  boost::asio::awaitable<Status> StaysHealthy();

  std::filesystem::path ProjectDir() const;
  std::filesystem::path BuildLog(int64_t deployment_id) const;
  std::filesystem::path AppLog() const;
  std::vector<std::string> Environment(const Candidate& c, const std::string& release_dir) const;
  Duration NextPollDelay();
  std::string RuleRef() const;  // "refs/heads/<branch>", or "" for tag projects
  // The ref a recorded version came from: the branch, or the tag it is named after.
  std::string RefOfVersion(const std::string& version) const;
  // Waits for the program StartRelease just started (release_, ref_, ...) to
  // pass its health check, and records health_ unless another program took
  // its place meanwhile.
  boost::asio::awaitable<Status> CheckHealth();
  // Where and with what environment a command health check of the running
  // release runs (every probe: the start, the watch, re-adoption).
  supervise::HealthContext RunningHealthContext() const;
  boost::asio::awaitable<void> HealthWatchLoop();

  Context ctx_;
  config::Project project_;
  git::Git git_;
  release::Releases releases_;
  std::mt19937 rng_;

  // The program that runs now, and what it runs.
  std::shared_ptr<supervise::Program> program_;
  std::string version_, commit_, release_;
  std::optional<TimePoint> started_at_;
  // kHealthy once it passed its check; kUnhealthy when a later probe (the
  // health watch, or re-adoption) failed; kUnknown before the first check.
  enum class Health { kUnknown, kHealthy, kUnhealthy };
  Health health_ = Health::kUnknown;
  std::string ref_;  // the ref the running version came from

  // Commits whose deployment failed, that a rollback left, or that were
  // cancelled (commit -> why): polling and pushes do not try them again; a
  // newer commit, or a deploy by hand, is needed. Kept in the store.
  std::map<std::string, std::string> pins_;
  std::string newest_pin_;
  uintmax_t output_offset_ = 0;  // size of the app log when the program started
  int64_t last_deployment_id_ = 0;
  std::string last_deployment_status_;
  std::string last_error_;
  int poll_failures_ = 0;

  // The queue, and the running deployment's phase and controls.
  queue::ProjectQueue queue_;
  // Where the running deployment is. Past kSwapping the old program may be
  // stopped: no cancel, no automatic restart in between.
  enum class Phase { kNone, kWaitingForSlot, kBuilding, kSwapping };
  static const char* PhaseName(Phase p);
  bool swapping() const { return phase_ == Phase::kSwapping; }
  Phase phase_ = Phase::kNone;
  std::string cancelled_by_;  // set when the running deployment is cancelled
  std::shared_ptr<os::CommandStopper> stopper_;  // the running deployment's commands

  // Who the next poll's deployment is for (notify or a tag webhook asks for a
  // poll now).
  store::Trigger next_poll_trigger_ = store::Trigger::kPoll;
  std::string next_poll_actor_ = "poll";

  // Supervision.
  bool held_ = false;              // stopped by hand
  int64_t restarts_ = 0;           // of the running version
  bool restarting_ = false;        // waiting out the backoff
  std::string last_exit_;          // how the program last exited on its own

  std::vector<int> listeners_;                          // fds, in `listen` order
  std::unique_ptr<supervise::NotifySocket> notify_;     // of the newest start

  bool started_ = false;
  bool recovered_ = false;
  bool shutting_down_ = false;
  int loops_running_ = 0;
  std::unique_ptr<Event> poll_wake_;
  std::unique_ptr<Event> work_wake_;
  std::unique_ptr<Event> slot_wake_;
  std::unique_ptr<Event> supervise_wake_;  // a new program to watch, or a decision made
};

}  // namespace anthill::deploy
