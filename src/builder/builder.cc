#include "builder/builder.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "artifact/blocking.h"
#include "artifact/pack.h"
#include "base/files.h"
#include "build/environment.h"
#include "deploy/build_job.h"
#include "deploy/step_sink.h"
#include "git/git.h"
#include "os/process.h"
#include "release/releases.h"

namespace anthill::builder {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// One claimed job while it runs: what its lease keeper and its build share.
struct Builder::Job {
  explicit Job(asio::any_io_executor executor) : lease_wake(std::move(executor)) {}
  store::BuildJobRow row;
  int slot = 0;
  std::shared_ptr<build::CommandStopper> stopper = std::make_shared<build::CommandStopper>();
  bool ended = false;     // the build is over: the keeper stops renewing
  bool taken = false;     // a renewal said the job is no longer this attempt's
  bool shutdown = false;  // this builder is stopping
  Event lease_wake;
};

Builder::Builder(asio::any_io_executor executor, BuilderSettings settings, store::BuildQueue& queue,
                 store::RecordWriter& record, artifact::ArtifactStore& artifacts,
                 WaitForWork wait_for_work)
    : executor_(executor),
      settings_(std::move(settings)),
      queue_(queue),
      record_(record),
      artifacts_(artifacts),
      wait_for_work_(std::move(wait_for_work)),
      busy_(std::max(1, settings_.info.slots), false),
      slot_freed_(executor) {}

Builder::~Builder() = default;

void Builder::KillLeftBuilds() {
  std::error_code ec;
  const fs::path builds = settings_.data_dir / "builds";
  if (!fs::is_directory(builds, ec)) return;
  for (const auto& project : fs::directory_iterator(builds, ec)) {
    for (const auto& slot : fs::directory_iterator(project.path(), ec)) {
      // The build that ran when this builder last stopped wrote its process
      // group here (deploy::BuildJob); a build tool's server of its own
      // session (bazel, gradle) is another group and keeps its caches.
      const std::string marker = ReadWholeFile(slot.path() / "workspace.dirty");
      const pid_t group = static_cast<pid_t>(std::atoll(marker.c_str()));
      if (group <= 0) continue;
      const std::string env = "ANTHILL_PROJECT=" + project.path().filename().string();
      for (const auto& orphan : os::ProcessesWithCwdUnder(slot.path(), env)) {
        if (orphan.pgid != group) continue;
        spdlog::warn("builder {}: killing process group {} of a build left by its last run",
                     settings_.info.name, group);
        (void)os::SignalGroup(group, SIGKILL);
        break;
      }
    }
  }
}

void Builder::Start() {
  KillLeftBuilds();
  ++coroutines_;
  asio::co_spawn(
      executor_,
      [this]() -> asio::awaitable<void> {
        co_await ClaimLoop();
        --coroutines_;
      },
      asio::detached);
}

void Builder::Shutdown() {
  stopping_ = true;
  slot_freed_.Set();
  for (auto& weak : jobs_) {
    if (auto job = weak.lock()) {
      job->shutdown = true;
      job->stopper->Stop();
      job->lease_wake.Set();
    }
  }
}

int Builder::FreeSlot() const {
  for (size_t i = 0; i < busy_.size(); ++i) {
    if (!busy_[i]) return static_cast<int>(i);
  }
  return -1;
}

asio::awaitable<void> Builder::ClaimLoop() {
  const std::string& name = settings_.info.name;
  bool registered = false;
  Duration backoff{100};
  auto last_reclaim = std::chrono::steady_clock::now() - settings_.reclaim_every;
  while (!stopping_) {
    if (!registered) {
      Status s = co_await queue_.RegisterBuilder(settings_.info);
      if (!s.ok()) {
        spdlog::warn("builder {}: cannot register with the build queue: {}", name, s.message());
        co_await SleepFor(backoff);
        backoff = std::min(backoff * 2, Duration(5000));
        continue;
      }
      registered = true;
      backoff = Duration(100);
      spdlog::info("builder {}: registered ({} slot(s), labels [{}])", name, busy_.size(),
                   fmt::join(settings_.info.labels, ", "));
    }
    const int slot = FreeSlot();
    if (slot < 0) {
      slot_freed_.Reset();
      co_await slot_freed_.Wait(kUntilWoken);
      continue;
    }
    if (std::chrono::steady_clock::now() - last_reclaim >= settings_.reclaim_every) {
      last_reclaim = std::chrono::steady_clock::now();
      auto taken_back = co_await queue_.ReclaimExpired();
      if (taken_back.ok()) {
        for (const auto& j : *taken_back) {
          spdlog::warn("build job {} ({} {}) queued again: {}", j.id, j.spec.project,
                       j.spec.version, j.error);
        }
      }
    }
    std::string me = name;
    std::vector<std::string> labels = settings_.info.labels;
    auto claimed = co_await queue_.Claim(me, labels);
    if (!claimed.ok()) {
      spdlog::warn("builder {}: cannot claim a job: {}", name, claimed.error());
      if (claimed.status().code() == StatusCode::kNotFound) registered = false;
      co_await SleepFor(backoff);
      backoff = std::min(backoff * 2, Duration(5000));
      continue;
    }
    backoff = Duration(100);
    if (!claimed->has_value()) {
      co_await wait_for_work_(settings_.idle_wait);
      continue;
    }
    busy_[slot] = true;
    ++coroutines_;
    asio::co_spawn(
        executor_,
        [this, row = std::move(**claimed), slot]() mutable -> asio::awaitable<void> {
          co_await RunJob(std::move(row), slot);
          busy_[slot] = false;
          slot_freed_.Set();
          --coroutines_;
        },
        asio::detached);
  }
}

asio::awaitable<void> Builder::KeepLease(std::shared_ptr<Job> job) {
  while (!job->ended) {
    job->lease_wake.Reset();
    co_await job->lease_wake.Wait(settings_.renew_every);
    if (job->ended || job->shutdown) break;
    std::string me = settings_.info.name;
    Status renewed = co_await queue_.Renew(job->row.id, me, job->row.attempt);
    if (renewed.code() == StatusCode::kConflict || renewed.code() == StatusCode::kNotFound) {
      spdlog::warn("build job {}: no longer this builder's ({}): stopping its build", job->row.id,
                   renewed.message());
      job->taken = true;
      job->stopper->Stop();
      break;
    }
    // Unavailable: the database is away; try again at the next tick. Should
    // the lease run out meanwhile, the next renewal (or Finish) says so.
    if (!renewed.ok())
      spdlog::warn("build job {}: renewing its lease: {}", job->row.id, renewed.message());
  }
}

asio::awaitable<void> Builder::RunJob(store::BuildJobRow row, int slot) {
  auto job = std::make_shared<Job>(executor_);
  job->row = std::move(row);
  job->slot = slot;
  if (stopping_) job->shutdown = true;
  jobs_.push_back(job);
  const store::BuildJobRow& r = job->row;
  spdlog::info("builder {}: job {} (deployment {}), {} {} at {}, attempt {}", settings_.info.name,
               r.id, r.spec.deployment_id, r.spec.project, r.spec.version,
               r.spec.commit.substr(0, 12), r.attempt);
  ++coroutines_;
  asio::co_spawn(
      executor_,
      [this, job]() -> asio::awaitable<void> {
        co_await KeepLease(job);
        --coroutines_;
      },
      asio::detached);
  store::BuildOutcome outcome = co_await BuildAndUpload(job);
  job->ended = true;
  job->lease_wake.Set();
  std::erase_if(jobs_, [](const std::weak_ptr<Job>& w) { return w.expired(); });
  if (job->taken) {
    ++dropped_;
    co_return;
  }
  if (job->shutdown) {
    // Not reported: the job goes back to the queue when its lease runs out,
    // and another builder (or this one, started again) builds it.
    spdlog::info("builder {}: job {} left unfinished (stopping)", settings_.info.name, r.id);
    ++dropped_;
    co_return;
  }
  std::string me = settings_.info.name;
  const store::BuildJobStatus status = outcome.status;
  // The database may be away for a moment: the outcome is worth a few tries
  // (the lease keeps the job ours only while nobody takes it back).
  Status reported = Status::Unavailable("not reported yet");
  for (int tries = 0; reported.code() == StatusCode::kUnavailable && tries < 50; ++tries) {
    if (tries > 0) co_await SleepFor(Duration(200));
    store::BuildOutcome copy = outcome;
    reported = co_await queue_.Finish(r.id, me, r.attempt, std::move(copy));
  }
  if (!reported.ok()) {
    spdlog::warn("builder {}: job {}: the outcome was not taken: {}", settings_.info.name, r.id,
                 reported.message());
    ++dropped_;
    co_return;
  }
  ++reported_;
  spdlog::info("builder {}: job {} {}", settings_.info.name, r.id, store::ToString(status));
}

asio::awaitable<store::BuildOutcome> Builder::BuildAndUpload(std::shared_ptr<Job> job) {
  const store::BuildJobSpec& spec = job->row.spec;
  const fs::path project_dir =
      settings_.data_dir / "builds" / spec.project / ("slot-" + std::to_string(job->slot));
  const fs::path log =
      settings_.data_dir / "logs" / "build" / (std::to_string(spec.deployment_id) + ".log");
  std::error_code ec;
  fs::create_directories(log.parent_path(), ec);
  fs::create_directories(settings_.data_dir / "tmp", ec);
  (void)AppendToFile(log, "anthill: builder " + settings_.info.name + ", build job " +
                              std::to_string(job->row.id) + ", attempt " +
                              std::to_string(job->row.attempt) + "\n");

  release::Releases releases(project_dir);
  git::Git git(settings_.data_dir / "tmp",
               spec.timeout.count() > 0 ? spec.timeout : Duration(30 * 60 * 1000));
  deploy::StoreStepSink steps(&record_);
  deploy::BuildSpec build_spec{spec.project,   spec.repo,    spec.build, spec.test,
                               spec.artifacts, spec.timeout, project_dir};
  build_spec.clean = deploy::CleanOfJob(spec.clean);
  deploy::BuildJob build_job(&git, &releases, &steps, build_spec);

  build::EnvVars project_env;
  for (const auto& kv : spec.env) {
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) project_env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  deploy::BuildTarget target;
  target.deployment_id = spec.deployment_id;
  target.candidate = {spec.ref, spec.commit, spec.version};
  build::Identity id{spec.project, spec.commit, spec.version, spec.ref, settings_.machine, ""};
  target.env = build::ProjectEnvironment(project_env, id);
  target.log = log;
  target.log_shown = log.string() + " on builder " + settings_.info.name;

  std::optional<std::string> release = build_job.Reuse(target);
  if (!release) {
    deploy::BuildControls controls;
    controls.stopper = job->stopper;
    controls.stopped = [job] { return job->taken || job->shutdown; };
    controls.stopped_as = [] { return store::StepStatus::kInterrupted; };
    controls.disk_full_hint = [] { return std::string(); };
    Result<std::string> made = co_await build_job.Run(target, controls);
    if (!made.ok()) co_return store::BuildOutcome::Failed(made.error());
    release = *made;
  }
  if (job->taken || job->shutdown) co_return store::BuildOutcome::Cancelled("stopped");

  deploy::StepRecord step(steps, spec.deployment_id, spec.project, store::StepName::kUpload);
  const fs::path archive =
      settings_.data_dir / "tmp" /
      ("job-" + std::to_string(job->row.id) + "-" + std::to_string(job->row.attempt) + ".tar.zst");
  auto pack = [dir = releases.PathOf(*release), archive] { return artifact::Pack(dir, archive); };
  asio::awaitable<Result<artifact::Packed>> packing = artifact::RunBlocking(std::move(pack));
  Result<artifact::Packed> packed = co_await std::move(packing);
  if (!packed.ok()) {
    Status s = step.End(packed.status().Prefixed("packing the release failed"));
    co_return store::BuildOutcome::Failed(s.message());
  }
  artifact::ArtifactRef ref{artifact::KeyFor(spec.project, spec.version), packed->sha256,
                            packed->size};
  (void)AppendToFile(log, "anthill: packed " + ref.key + ": " + std::to_string(ref.size) +
                              " bytes, sha256 " + ref.sha256 + "; uploading to " +
                              artifacts_.Describe() + "\n");
  // The store may be away for a moment (an orchestrator restarting, S3
  // throttling): a build is not thrown away for that. Unreachable or timed
  // out, the upload is tried again for upload_patience; any other
  // answer (a refused token, a checksum the store disputes) is final.
  Status put;
  const auto give_up_at = std::chrono::steady_clock::now() + settings_.upload_patience;
  for (Duration wait{1000};; wait = std::min(wait * 2, Duration(15000))) {
    artifact::ArtifactRef put_ref = ref;
    fs::path put_file = archive;
    put = co_await artifacts_.Put(put_ref, put_file);
    const bool transient =
        put.code() == StatusCode::kUnavailable || put.code() == StatusCode::kTimedOut;
    if (put.ok() || !transient || job->taken || job->shutdown ||
        std::chrono::steady_clock::now() + wait > give_up_at) {
      break;
    }
    (void)AppendToFile(log, "anthill: upload failed (" + put.message() + "); trying again in " +
                                std::to_string(wait.count() / 1000) + " s\n");
    co_await SleepFor(wait);
    if (job->taken || job->shutdown) break;
  }
  fs::remove(archive, ec);
  if (job->taken || job->shutdown) co_return store::BuildOutcome::Cancelled("stopped");
  if (!put.ok()) {
    Status s = step.End(put.Prefixed("uploading the artifact failed"));
    co_return store::BuildOutcome::Failed(s.message());
  }
  (void)step.End(Status::Ok());
  auto pruned = releases.Prune(settings_.keep_releases, {*release});
  if (!pruned.ok()) spdlog::warn("builder: prune {}: {}", project_dir.string(), pruned.error());
  co_return store::BuildOutcome::Succeeded(ref.key, ref.sha256, ref.size, *release);
}

}  // namespace anthill::builder
