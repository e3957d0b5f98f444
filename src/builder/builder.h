// A builder of a fleet (role "builder"): it announces itself to the build
// queue, claims the jobs its labels cover, and for each one fetches the
// commit, builds and tests it with the project's own commands
// (deploy::BuildJob, exactly as a single machine builds), packs the release
// into an artifact, puts it in the artifact store and reports the outcome.
// It reads no project config: a job carries everything (store::BuildJobSpec).
//
// Leases: while a job runs, its lease is renewed every `renew_every`. When
// a renewal says the job is no longer this attempt's (the lease ran out and
// another builder took it, or it was cancelled), the build is stopped and
// nothing is reported: the job belongs to someone else now. A builder that
// is killed simply stops renewing; the queue gives the job to another
// builder once the lease runs out, and marks this attempt's steps
// interrupted.
//
// Idle, it waits for a "queued" notification (wait_for_work), at most
// `idle_wait` (so a missed notification costs that much), and then claims.
// It also takes back expired leases (ReclaimExpired) while idle, so a fleet
// whose orchestrator is down still recovers a dead builder's jobs.
//
// Each slot has its own workspace per project (data_dir/builds/<project>/
// slot-<n>/), so two builds at once never share a checkout, and a commit
// built again in the same slot fetches and builds incrementally.
//
// Thread: the io_context thread of its executor.
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "artifact/artifact_store.h"
#include "base/event.h"
#include "base/time.h"
#include "store/build_queue.h"
#include "store/record_writer.h"

namespace anthill::builder {

struct BuilderSettings {
  store::BuilderInfo info;         // name, labels, slots
  std::string machine;             // ANTHILL_MACHINE in the builds' environment
  std::filesystem::path data_dir;  // builds/, logs/build/ and tmp/ live here
  Duration renew_every{3333};      // a third of the queue's lease
  Duration idle_wait{5000};        // the longest a missed notification delays a claim
  Duration reclaim_every{2000};    // how often an idle builder takes back expired leases
  int keep_releases = 2;           // per slot and project, for reuse by commit
  // How long an upload the store cannot take now (unreachable, timed out)
  // is tried again, waiting 1, 2, 4, 8, then 15 s between tries.
  Duration upload_patience{60000};
};

// Returns when a job may have been queued (true) or `max_wait` passed.
using WaitForWork = std::function<boost::asio::awaitable<bool>(Duration max_wait)>;

class Builder {
 public:
  // queue, record and artifacts must outlive the builder and every
  // coroutine it started (done()).
  Builder(boost::asio::any_io_executor executor, BuilderSettings settings, store::BuildQueue& queue,
          store::RecordWriter& record, artifact::ArtifactStore& artifacts,
          WaitForWork wait_for_work);
  ~Builder();
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  // Kills what builds of its last run left running (it was killed with
  // them), then registers and starts claiming, in coroutines of its own.
  void Start();
  // Stops claiming and stops the builds in flight (their steps are recorded
  // interrupted; their jobs go back to the queue when their leases run out).
  void Shutdown();
  // True once Shutdown's work is over: nothing of the builder runs.
  bool done() const { return coroutines_ == 0; }

  int running() const { return static_cast<int>(std::count(busy_.begin(), busy_.end(), true)); }
  // Jobs this builder reported (any outcome), and the ones it dropped
  // because they were taken back: for tests and the log.
  int64_t reported() const { return reported_; }
  int64_t dropped() const { return dropped_; }

 private:
  struct Job;
  boost::asio::awaitable<void> ClaimLoop();
  boost::asio::awaitable<void> RunJob(store::BuildJobRow row, int slot);
  boost::asio::awaitable<void> KeepLease(std::shared_ptr<Job> job);
  // fetch -> build -> test -> release -> upload; the outcome to report.
  boost::asio::awaitable<store::BuildOutcome> BuildAndUpload(std::shared_ptr<Job> job);
  int FreeSlot() const;
  void KillLeftBuilds();

  boost::asio::any_io_executor executor_;
  BuilderSettings settings_;
  store::BuildQueue& queue_;
  store::RecordWriter& record_;
  artifact::ArtifactStore& artifacts_;
  WaitForWork wait_for_work_;

  std::vector<bool> busy_;  // per slot
  Event slot_freed_;
  bool stopping_ = false;
  int coroutines_ = 0;
  int64_t reported_ = 0;
  int64_t dropped_ = 0;
  std::vector<std::weak_ptr<Job>> jobs_;  // in flight, to stop them on Shutdown
};

}  // namespace anthill::builder
