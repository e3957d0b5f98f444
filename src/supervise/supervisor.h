// The one owner of what a project runs on this machine: the program, what it
// runs (release, version, commit, ref), since when and how healthy, as one
// value. Around it: the restart policy, the health watch, stop and start by
// hand, re-adoption after an Anthill restart, the sweep of what a previous
// life left running, and the listening sockets it hands to each program.
//
// A deployment swapping programs (deploy/swap) starts, checks and restores
// through this class and marks the time it decides (BeginSwap/EndSwap): no
// automatic restart and no health-watch verdict in between.
//
// What runs is recorded in the store's per-machine state: the program that
// passed its check (re-adopted at start-up), the candidate that has not yet
// (stopped at start-up), held projects and program events.
//
// Thread: the io_context thread owns a Supervisor and everything it touches.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/event.h"
#include "base/status.h"
#include "base/time.h"
#include "store/machine_store.h"
#include "supervise/health.h"
#include "supervise/notify_socket.h"
#include "supervise/program.h"
#include "supervise/spec.h"

namespace anthill::supervise {

using store::Health;  // the vocabulary's word for it, so the API can show it

// What a program runs: enough to start it again and to describe it.
struct Deployed {
  std::string release;           // release dir name
  std::filesystem::path dir;     // the release dir (cwd)
  std::string version;           // label
  std::string commit;            // 40 hex
  std::string ref;               // the ref it came from
  std::vector<std::string> env;  // the environment it runs with
  int64_t deployment_id = 0;     // the deployment that started it, 0 when none
};

// What runs now: one value, replaced as a whole.
struct Running {
  std::shared_ptr<Program> program;  // null when nothing was started or adopted
  Deployed what;                     // also kept when the program stopped
  std::optional<TimePoint> started_at;
  // kHealthy once it passed its check; kUnhealthy when a later probe (the
  // health watch, or re-adoption) failed; kUnknown before the first check.
  Health health = Health::kUnknown;

  bool alive() const { return program && !program->exited(); }
};

// The answer to "stop it" or "start it" by hand.
struct HandOutcome {
  enum class Kind { kStarted, kDone, kConflict };  // started now, nothing (more) to do, refused
  Kind kind = Kind::kDone;
  std::string message;
};

class Supervisor {
 public:
  // Runs `spec`'s program; records what runs in `store` (this machine's state).
  Supervisor(boost::asio::any_io_executor executor, ProgramSpec spec, store::MachineStore* store);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  const Running& running() const { return running_; }
  bool held() const { return held_; }
  int64_t restarts() const { return restarts_; }
  bool restarting() const { return restarting_; }
  const std::string& last_exit() const { return last_exit_; }

  // --- Start-up ------------------------------------------------------------
  // Re-adopts the recorded program, or starts its release again; stops a
  // candidate that never passed its check; kills what a previous life left.
  // `complete` fills in a recorded program's dir, ref and environment from
  // its release, version and commit; false when the release is gone.
  using Complete = std::function<bool(Deployed&)>;
  boost::asio::awaitable<void> Recover(const Complete& complete);
  // Then: watch the program (restarts), probe its health, rotate its log.
  void StartLoops();
  void Shutdown();

  // --- Used by a deployment ------------------------------------------------
  // Starts `what` and records its process: as the program when `verified`
  // (it ran and passed its check before), else as the candidate until
  // Promote(). The previous program, if any, is not stopped.
  boost::asio::awaitable<Status> Start(const Deployed& what, bool verified);
  // Until the just-started program passes its health check; records health.
  boost::asio::awaitable<Status> CheckHealth();
  // Until the new program is ready: READY=1 (ready = "notify") or its check.
  boost::asio::awaitable<Status> WaitReady();
  // It must keep running and passing its probe for health.min_healthy_time.
  boost::asio::awaitable<Status> StaysHealthy();
  // The candidate passed: it is the program now, also after a restart.
  void Promote();
  // Stops what runs now (if it runs); returns how it went.
  boost::asio::awaitable<std::optional<StopOutcome>> StopCurrent();
  // Stops `program` (an older one kept serving during a zero-downtime swap).
  boost::asio::awaitable<StopOutcome> Stop(Program& program);
  // Puts back a program that kept running (a zero-downtime swap that failed):
  // it is what runs, healthy, recorded again.
  void Restore(const Running& previous);
  // Nothing runs: forget the program and the candidate (the release stays
  // known so that a later Start by hand can use it, unless `forget_release`).
  void Clear(bool forget_release);
  // Records that a rollback will start `what`: killed before the start, a
  // restarted Anthill starts it (finishes the rollback) instead of what it left.
  void RecordIntent(const Deployed& what);
  // A deployment decides what runs between these calls.
  void BeginSwap() { swapping_ = true; }
  void EndSwap();
  bool swapping() const { return swapping_; }
  void SetHealthy() { running_.health = Health::kHealthy; }
  // A new version was deployed: its restart count and last exit start over,
  // and a project stopped by hand is no longer held.
  void ResetAfterDeploy();

  // "; its last output: ..." from the app log since the program started.
  std::string OutputSinceStart() const;

  // --- By hand -------------------------------------------------------------
  HandOutcome StopByHand(const std::string& actor);
  HandOutcome StartByHand(const std::string& actor);

 private:
  boost::asio::awaitable<void> StopUnverified();
  boost::asio::awaitable<void> KillOrphans(pid_t keep);
  boost::asio::awaitable<void> RestartLoop();
  boost::asio::awaitable<void> HealthWatchLoop();
  boost::asio::awaitable<void> LogRotationLoop();
  Status EnsureListeners();
  HealthContext RunningHealthContext() const;
  void RecordEvent(store::ProgramEventKind kind, int64_t pid, const std::string& detail);
  void RecordProcess(bool verified);

  boost::asio::any_io_executor executor_;
  ProgramSpec spec_;
  store::MachineStore* store_;
  Running running_;
  bool held_ = false;        // stopped by hand
  int64_t restarts_ = 0;     // of the running version
  bool restarting_ = false;  // waiting out the backoff
  bool swapping_ = false;
  bool shutting_down_ = false;
  std::string last_exit_;                 // how the program last exited on its own
  uintmax_t output_offset_ = 0;           // size of the app log when the program started
  std::vector<int> listeners_;            // fds, in `listen` order
  std::unique_ptr<NotifySocket> notify_;  // of the newest start
  std::unique_ptr<Event> wake_;           // a new program to watch, or a decision made
};

}  // namespace anthill::supervise
