// The build queue of a fleet: jobs an orchestrator enqueues and builders
// claim, run and finish. A builder holds a claimed job under a lease it
// renews while it works; a builder that stops answering (killed, cut off)
// lets its lease run out, and the job goes back to the queue for another
// builder, as a new attempt. pg_build_queue.h keeps it in PostgreSQL.
//
// The life of a job:
//   queued --Claim--> running --Finish--> succeeded | failed | cancelled
//   running --lease ran out, ReclaimExpired--> queued (attempt kept; the
//     next Claim makes attempt + 1)
//   queued | running --Cancel--> cancelled
// Each Claim is one attempt; Renew and Finish name it (builder, attempt),
// and once the job is no longer that attempt's (taken back, cancelled,
// finished) they fail with kConflict: the builder must stop working on it.
//
// Parameters are taken by value: a call may outlive the caller's
// temporaries while it is suspended (async_record_store.h says more).
//
// Thread: plain values; a BuildQueue is called on its io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::store {

enum class BuildJobStatus { kQueued, kRunning, kSucceeded, kFailed, kCancelled };

// The words of the API and the database, one table both ways.
inline constexpr std::pair<BuildJobStatus, std::string_view> kBuildJobStatusWords[] = {
    {BuildJobStatus::kQueued, "queued"},       {BuildJobStatus::kRunning, "running"},
    {BuildJobStatus::kSucceeded, "succeeded"}, {BuildJobStatus::kFailed, "failed"},
    {BuildJobStatus::kCancelled, "cancelled"},
};
constexpr std::string_view ToString(BuildJobStatus s) {
  for (const auto& [status, word] : kBuildJobStatusWords) {
    if (status == s) return word;
  }
  return "failed";
}
constexpr std::optional<BuildJobStatus> ParseBuildJobStatus(std::string_view word) {
  for (const auto& [status, w] : kBuildJobStatusWords) {
    if (w == word) return status;
  }
  return std::nullopt;
}
// True for succeeded, failed and cancelled: nothing changes the job again.
constexpr bool IsFinished(BuildJobStatus s) {
  return s != BuildJobStatus::kQueued && s != BuildJobStatus::kRunning;
}

// Everything a builder needs to build one commit, as plain values: it reads
// no config file.
struct BuildJobSpec {
  int64_t deployment_id = 0;           // the deployment (record) this build is for
  std::string project;                 // "hello"
  std::string repo;                    // what git clones: a URL or a path
  std::string commit;                  // 40 hex
  std::string ref;                     // "refs/heads/main"
  std::string version;                 // "main-22222222" or the tag name
  std::string build;                   // the build command (sh -c); "" for none
  std::string test;                    // the test command (sh -c); "" for none
  std::vector<std::string> artifacts;  // paths in the workspace packed into the release
  std::vector<std::string> env;        // "KEY=value", in order
  Duration timeout{0};                 // for build + test; 0: no limit
  std::string clean = "never";         // the project's `clean`: never, on-failure, always
  // What a builder must have to run it (its labels a superset); empty: any.
  std::vector<std::string> labels;
};

// A job as the queue keeps it. Times are the database server's clock (so
// machines whose clocks disagree agree on leases).
struct BuildJobRow {
  int64_t id = 0;
  BuildJobSpec spec;
  BuildJobStatus status = BuildJobStatus::kQueued;
  int attempt = 0;      // claims so far: 0 until the first, 2 on the second builder
  std::string builder;  // of the current or last attempt; "" while queued
  TimePoint queued_at{};
  std::optional<TimePoint> started_at;   // the current (or last) attempt's claim
  std::optional<TimePoint> finished_at;  // once finished
  std::optional<TimePoint> lease_until;  // while running
  // Why it failed or was cancelled; while queued again, why the last attempt
  // stopped ("builder b1 stopped answering (lease expired)").
  std::string error;
  // What a successful build left, as the artifact store names it.
  std::string artifact_key;     // "<project>/<version>.tar.zst"
  std::string artifact_sha256;  // 64 lowercase hex
  int64_t artifact_size = 0;    // bytes
  std::string release;          // the release dir name it unpacks to
};

// A builder as it announces itself.
struct BuilderInfo {
  std::string name;                 // unique in the fleet: "builder-1"
  std::vector<std::string> labels;  // "linux", "arm64", "gpu"
  int slots = 1;                    // jobs it runs at once
};

// An open job for the queue's page (GET /api/v1/queue).
struct QueuedJobView {
  BuildJobRow job;
  // Why a queued job is not running, in words for a person:
  //   "no builder has labels gpu, arm64"  no live builder has all its labels
  //   "no builder is alive"               it needs no label, and none is up
  //   "all builders with its labels are busy"
  //   "waiting for a free builder to claim it"
  // and "" for a running job.
  std::string waiting_for;
};

// How an attempt ended, for Finish.
struct BuildOutcome {
  BuildJobStatus status = BuildJobStatus::kFailed;  // succeeded, failed or cancelled
  std::string error;                                // "" when succeeded
  std::string artifact_key;
  std::string artifact_sha256;
  int64_t artifact_size = 0;
  std::string release;

  static BuildOutcome Succeeded(std::string key, std::string sha256, int64_t size,
                                std::string release) {
    return {BuildJobStatus::kSucceeded, "",   std::move(key),
            std::move(sha256),          size, std::move(release)};
  }
  static BuildOutcome Failed(std::string error) {
    return {BuildJobStatus::kFailed, std::move(error)};
  }
  static BuildOutcome Cancelled(std::string error) {
    return {BuildJobStatus::kCancelled, std::move(error)};
  }
};

class BuildQueue {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  virtual ~BuildQueue() = default;

  // Queues a job and returns its id; idle builders are woken.
  virtual Awaitable<Result<int64_t>> Enqueue(BuildJobSpec spec) = 0;

  // Announces a builder (again, after a restart: its labels and slots are
  // replaced) and marks it alive. A name "" or slots < 1 is kInvalidArgument.
  virtual Awaitable<Status> RegisterBuilder(BuilderInfo builder) = 0;
  // Marks a builder alive. One never registered is kNotFound: register.
  virtual Awaitable<Status> Heartbeat(std::string builder) = 0;

  // Takes the oldest queued job whose labels are all in `labels`, for
  // `builder`, as a new attempt under a fresh lease; nullopt when there is
  // none. Two builders never get the same job. Counts as a heartbeat.
  virtual Awaitable<Result<std::optional<BuildJobRow>>> Claim(std::string builder,
                                                              std::vector<std::string> labels) = 0;
  // Extends the lease of `attempt` by `builder`; also a heartbeat. A lease
  // that ran out but was not taken back yet is extended too (no one else has
  // the job). kConflict when the job is no longer that attempt's (taken
  // back, cancelled); kNotFound for no such job.
  virtual Awaitable<Status> Renew(int64_t job_id, std::string builder, int attempt) = 0;
  // Ends `attempt` with `outcome` and wakes whoever waits for the job.
  // kConflict when the job is no longer that attempt's: the outcome is
  // dropped. kInvalidArgument for an outcome that is not an end.
  virtual Awaitable<Status> Finish(int64_t job_id, std::string builder, int attempt,
                                   BuildOutcome outcome) = 0;
  // Cancels a queued or running job, with `why` as its error; the running
  // builder finds out at its next Renew (kConflict). kConflict when it has
  // already finished; kNotFound for no such job.
  virtual Awaitable<Status> Cancel(int64_t job_id, std::string why) = 0;

  // Puts every running job whose lease ran out back in the queue, and marks
  // the still-running steps of its deployment interrupted (the builder that
  // ran them is gone); returns the jobs, queued again. Safe to call from any
  // number of processes at once: each job is taken back once.
  virtual Awaitable<Result<std::vector<BuildJobRow>>> ReclaimExpired() = 0;

  // kNotFound for no such job.
  virtual Awaitable<Result<BuildJobRow>> Get(int64_t job_id) = 0;
  // The jobs queued for deployment `deployment_id`, oldest first (one,
  // unless it was queued again by hand); empty when it was built nowhere.
  virtual Awaitable<Result<std::vector<BuildJobRow>>> JobsOfDeployment(int64_t deployment_id) = 0;
  // Queued and running jobs, oldest first, each with why it waits.
  virtual Awaitable<Result<std::vector<QueuedJobView>>> ListOpen() = 0;

  // Each commit is built once. The newest job that builds what `spec`
  // builds (the same project, commit, build and test commands, artifacts
  // and env, in order; its deployment, ref, version, labels, repo and
  // timeout may differ) and is queued, running, or succeeded with an
  // artifact still kept (artifact_key not ""); nullopt when there is none:
  // failed and cancelled jobs are not reused. An orchestrator asks before
  // Enqueue, and waits for that job (or downloads its artifact) instead of
  // building the commit again, e.g. after another orchestrator died while
  // its job was building. kInvalidArgument when spec has no project or no
  // commit.
  virtual Awaitable<Result<std::optional<BuildJobRow>>> FindReusable(BuildJobSpec spec) = 0;
  // The succeeded jobs of `project` whose artifact is still kept
  // (artifact_key not ""), newest finished first: what pruning looks at.
  virtual Awaitable<Result<std::vector<BuildJobRow>>> ListArtifacts(std::string project) = 0;
  // Says the job's artifact was pruned from the artifact store: its
  // artifact_key and artifact_sha256 become "" and its artifact_size 0, so
  // FindReusable and ListArtifacts pass it by. The rest of the job (status,
  // release) stays as history. kNotFound for no such job.
  virtual Awaitable<Status> ForgetArtifact(int64_t job_id) = 0;
};

}  // namespace anthill::store
