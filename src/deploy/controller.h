// What the rest of Anthill (the HTTP API, the web page) may ask of the deploy
// side: the live state of each project, its queue, and the actions a person or
// a push can take. Implemented by the daemon over the project runners.
// Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/records.h"

namespace anthill::deploy {

struct ProjectState {
  std::string name;
  std::string repo;
  std::string branch;  // or empty for tag-driven projects
  std::string tags;
  store::RunState state = store::RunState::kStarting;
  store::Health health = store::Health::kUnknown;
  std::string version;                  // running version label, empty when none
  std::string commit;                   // running commit (40 hex), empty when none
  std::string release;                  // release dir name
  int64_t pid = 0;                      // 0 when not running
  std::optional<TimePoint> started_at;  // when the running process started
  int64_t last_deployment_id = 0;       // 0 when none yet
  std::optional<store::DeploymentStatus> last_deployment_status;  // none yet: nullopt
  std::string last_error;         // of the last failed deployment or poll, else empty
  std::string pinned_out_commit;  // not redeployed by polling (it failed or was rolled back)
  std::map<std::string, std::string> pinned_out;  // every such commit -> why
  int64_t restarts = 0;                           // automatic restarts of the running version
  std::string last_exit;  // how it last exited on its own ("killed by SIGSEGV after 3 s up")
  bool held = false;      // stopped by hand
  // With several orchestrators on one database: the machine of the one
  // holding the project ("" when none does, or on SQLite). When it is
  // another, state is kElsewhere and only the names above are set.
  std::string orchestrator;
};

// One project's build queue, for GET /api/v1/queue.
struct QueueState {
  std::string project;
  std::optional<store::Deployment> running;  // as recorded
  std::optional<store::Deployment> waiting;
  std::string waiting_reason;  // why the waiting one has not started
  std::string running_phase;   // "waiting for a build slot", "building", "swapping"
};

// What the webhook receivers need to match a push to projects.
struct HookTarget {
  std::string project;
  std::string repo;
  std::string branch;  // empty for tag projects
  std::string tags;    // glob, or empty
  std::string webhook_secret;
};

// The answer to an action: accepted (the work goes on, e.g. a deployment was
// queued), done (or nothing to do), or refused with the kind of error
// (unknown project: not found; swapping now: conflict; bad ref: invalid
// argument; stopping: unavailable); the deployment it made or touched, and a
// message for people. http/ picks the HTTP status from it.
struct ActionOutcome {
  StatusCode code = StatusCode::kOk;  // kOk unless refused
  bool accepted = true;               // when kOk: started and still going, or done
  int64_t deployment_id = 0;
  std::string message;

  static ActionOutcome Accepted(int64_t id, std::string message) {
    return {StatusCode::kOk, true, id, std::move(message)};
  }
  static ActionOutcome Done(int64_t id, std::string message) {
    return {StatusCode::kOk, false, id, std::move(message)};
  }
  static ActionOutcome Refused(StatusCode code, std::string message, int64_t id = 0) {
    return {code, false, id, std::move(message)};
  }
  bool ok() const { return code == StatusCode::kOk; }
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::vector<ProjectState> Projects() const = 0;
  virtual std::vector<QueueState> Queue() const = 0;
  virtual std::vector<HookTarget> HookTargets() const = 0;
  virtual int max_parallel_builds() const = 0;
  virtual int builds_running() const = 0;

  // Deploys ref's current commit (empty ref: the project's rule) by hand, even
  // a commit that failed before; reuses a release already built for it.
  virtual ActionOutcome Deploy(const std::string& project, const std::string& ref,
                               const std::string& actor) = 0;
  // Returns to `version` (empty: the previous good release) without building,
  // and pins out the commit it leaves.
  virtual ActionOutcome Rollback(const std::string& project, const std::string& version,
                                 const std::string& actor) = 0;
  // A push happened (webhook or `anthill notify`): deploy `commit` of `ref` if
  // the project's rule wants it; with no commit (or for tag projects) look now.
  virtual ActionOutcome Notify(const std::string& project, const std::string& ref,
                               const std::string& commit, store::Trigger trigger,
                               const std::string& actor) = 0;
  // Cancels a queued deployment, or a running one that has not yet stopped
  // the old program (its build is stopped; the old version keeps running).
  virtual ActionOutcome Cancel(int64_t deployment_id, const std::string& actor) = 0;
  // Stops a program on purpose / starts it again (`anthill stop`, `start`).
  virtual ActionOutcome StopProgram(const std::string& project, const std::string& actor) = 0;
  virtual ActionOutcome StartProgram(const std::string& project, const std::string& actor) = 0;
};

}  // namespace anthill::deploy
