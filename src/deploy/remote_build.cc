#include "deploy/remote_build.h"

#include <spdlog/spdlog.h>

#include "artifact/blocking.h"
#include "artifact/pack.h"
#include "base/files.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// How often a wait looks at the job even without a notification: the
// longest a missed one delays the deployment, and how soon a cancel is seen.
constexpr Duration kJobLookEvery{1000};

}  // namespace

RemoteBuild::RemoteBuild(Fleet fleet, store::AsyncRecordStore* record, release::Releases* releases,
                         StepSink* steps, BuildSpec spec, std::vector<std::string> env,
                         std::vector<std::string> labels)
    : fleet_(std::move(fleet)),
      record_(record),
      releases_(releases),
      steps_(steps),
      spec_(std::move(spec)),
      env_(std::move(env)),
      labels_(std::move(labels)) {}

asio::awaitable<Result<std::string>> RemoteBuild::Run(const BuildTarget& t,
                                                      const BuildControls& c) {
  auto built = co_await Built(t, c);
  if (!built.ok()) co_return built.status();
  const store::BuildJobRow& done = *built;
  if (c.stopped()) co_return Status::Error("cancelled");
  Status downloaded = co_await Download(done, t);
  if (!downloaded.ok()) co_return downloaded;
  co_return done.release;
}

asio::awaitable<Result<store::BuildJobRow>> RemoteBuild::Built(const BuildTarget& t,
                                                               const BuildControls& c) {
  // The builder records its steps under this deployment: its row must be in
  // the shared record first. A read waits for this process's earlier writes.
  const int64_t deployment_id = t.deployment_id;
  auto row = co_await record_->GetDeployment(deployment_id);
  if (!row.ok()) co_return row.status().Prefixed("queueing the build");

  store::BuildJobSpec job;
  job.deployment_id = t.deployment_id;
  job.project = spec_.project;
  job.repo = spec_.repo;
  job.commit = t.candidate.commit;
  job.ref = t.candidate.ref;
  job.version = t.candidate.version;
  job.build = spec_.build;
  job.test = spec_.test;
  job.artifacts = spec_.artifacts;
  job.env = env_;
  job.timeout = spec_.timeout;
  job.clean = std::string(config::CleanWord(spec_.clean));
  job.labels = labels_;
  // Each commit is built once: a job for the same commit and commands,
  // queued, building or built (for an earlier deployment, perhaps by an
  // orchestrator that stopped since), is waited for or used instead.
  store::BuildJobSpec same = job;
  auto reusable = co_await fleet_.queue->FindReusable(std::move(same));
  if (!reusable.ok()) {
    spdlog::warn("project {}: cannot look for an earlier build of {}: {}", spec_.project,
                 t.candidate.commit, reusable.error());
  }
  int64_t job_id = 0;
  if (reusable.ok() && reusable->has_value()) {
    const store::BuildJobRow& earlier = **reusable;
    job_id = earlier.id;
    (void)AppendToFile(t.log, "anthill: build job " + std::to_string(job_id) + " (deployment " +
                                  std::to_string(earlier.spec.deployment_id) + ") " +
                                  (earlier.status == store::BuildJobStatus::kSucceeded
                                       ? "built this commit already"
                                       : "is building this commit already") +
                                  ": using it, not building it again\n");
  } else {
    auto id = co_await fleet_.queue->Enqueue(std::move(job));
    if (!id.ok()) co_return id.status().Prefixed("queueing the build");
    job_id = *id;
    (void)AppendToFile(t.log, "anthill: queued as build job " + std::to_string(job_id) +
                                  "; a builder of the fleet fetches, builds and tests it\n");
  }
  auto ended = co_await WaitForEnd(job_id, t, c);
  if (!ended.ok()) co_return ended.status();
  const store::BuildJobRow& done = *ended;
  if (done.status != store::BuildJobStatus::kSucceeded) {
    co_return Status::Error(
        "build job " + std::to_string(done.id) + " " + std::string(store::ToString(done.status)) +
        (done.builder.empty() ? "" : " on builder " + done.builder) + ": " + done.error);
  }
  (void)AppendToFile(t.log, "anthill: built by " + done.builder + " (attempt " +
                                std::to_string(done.attempt) + "): " + done.artifact_key + ", " +
                                std::to_string(done.artifact_size) + " bytes, sha256 " +
                                done.artifact_sha256 + "\n");
  co_return done;
}

asio::awaitable<Result<store::BuildJobRow>> RemoteBuild::ArtifactOf(std::string release) {
  std::string project = spec_.project;
  auto kept = co_await fleet_.queue->ListArtifacts(project);
  if (!kept.ok()) co_return kept.status().Prefixed("looking for the artifact of " + release);
  for (const store::BuildJobRow& job : *kept) {
    if (job.release == release && !job.artifact_key.empty()) co_return job;
  }
  co_return Status::NotFound("the artifact of release " + release +
                             " is no longer kept (pruned): deploy its commit to build it again");
}

asio::awaitable<Result<store::BuildJobRow>> RemoteBuild::WaitForEnd(int64_t job_id,
                                                                    const BuildTarget& t,
                                                                    const BuildControls& c) {
  std::string said;  // the last "waiting for" written to the log
  for (;;) {
    if (c.stopped()) {
      const std::string why = "the deployment was stopped";
      Status cancelled = co_await fleet_.queue->Cancel(job_id, why);
      if (!cancelled.ok() && cancelled.code() != StatusCode::kConflict) {
        spdlog::warn("build job {}: cannot cancel it: {}", job_id, cancelled.message());
      }
      co_return Status::Error(StatusCode::kCancelled, "cancelled");
    }
    auto job = co_await fleet_.queue->Get(job_id);
    if (job.ok() && store::IsFinished(job->status)) co_return *job;
    if (job.ok() && job->status == store::BuildJobStatus::kRunning &&
        said != "running:" + job->builder + std::to_string(job->attempt)) {
      said = "running:" + job->builder + std::to_string(job->attempt);
      (void)AppendToFile(t.log, "anthill: builder " + job->builder + " took it (attempt " +
                                    std::to_string(job->attempt) + ")\n");
    }
    if (!job.ok()) {
      spdlog::warn("build job {}: cannot read it: {}", job_id, job.error());
    }
    co_await fleet_.wait_for_job(job_id, kJobLookEvery);
  }
}

asio::awaitable<Status> RemoteBuild::Download(const store::BuildJobRow& job, const BuildTarget& t) {
  StepRecord step(*steps_, t.deployment_id, spec_.project, store::StepName::kDownload);
  if (job.release.empty() || job.release.find('/') != std::string::npos || job.release == "." ||
      job.release == "..") {
    co_return step.End(Status::InvalidArgument("build job " + std::to_string(job.id) +
                                               " names no usable release ('" + job.release + "')"));
  }
  if (releases_->Exists(job.release)) {
    (void)AppendToFile(t.log, "anthill: release " + job.release + " is already here\n");
    co_return step.End(Status::Ok());
  }
  std::error_code ec;
  fs::create_directories(fleet_.tmp_dir, ec);
  fs::create_directories(releases_->releases_dir(), ec);
  const fs::path archive =
      fleet_.tmp_dir / ("download-" + std::to_string(t.deployment_id) + ".tar.zst");
  artifact::ArtifactRef ref{job.artifact_key, job.artifact_sha256, job.artifact_size};
  fs::path dest = archive;
  Status got = co_await fleet_.artifacts->Get(ref, dest);
  if (!got.ok()) {
    co_return step.End(
        got.Prefixed("artifact " + job.artifact_key + " from " + fleet_.artifacts->Describe()));
  }
  // Unpacking hundreds of MB takes a while: off the loop.
  auto unpack = [archive, into = releases_->PathOf(job.release)] {
    return artifact::Unpack(archive, into);
  };
  asio::awaitable<Status> unpacking = artifact::RunBlocking(std::move(unpack));
  Status unpacked = co_await std::move(unpacking);
  fs::remove(archive, ec);
  if (!unpacked.ok()) co_return step.End(unpacked.Prefixed("unpacking " + job.artifact_key));
  (void)AppendToFile(t.log, "anthill: downloaded, verified and unpacked into " +
                                releases_->PathOf(job.release).string() + "\n");
  co_return step.End(Status::Ok());
}

}  // namespace anthill::deploy
