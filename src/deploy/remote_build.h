// A build done by a builder of the fleet instead of in this process: the
// orchestrator's side of store::BuildQueue. It queues a job carrying
// everything the builder needs (repository, commit, commands, artifact
// paths, the project's env), waits for its end (woken by the queue's
// notifications, bounded by `wait_done`), then downloads the artifact the
// builder made, verifies its SHA-256 and size, and unpacks it into this
// machine's releases/ as the "download" step. The builder records fetch,
// build, test, release and upload in the same record.
//
// A failure anywhere (the build failed, the artifact is missing or fails its
// checksum) fails the deployment before it touches the running program, with
// the reason. A cancel (or a shutdown) cancels the job.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <vector>

#include "artifact/artifact_store.h"
#include "base/status.h"
#include "deploy/build_job.h"
#include "deploy/step_sink.h"
#include "release/releases.h"
#include "store/agent_fleet.h"
#include "store/async_record_store.h"
#include "store/build_queue.h"

namespace anthill::deploy {

// Returns when build job `id` may have ended (true), or `max_wait` passed.
using WaitForJob = std::function<boost::asio::awaitable<bool>(int64_t id, Duration max_wait)>;

// The fleet's parts an orchestrator builds through; all must outlive it.
struct Fleet {
  store::BuildQueue* queue = nullptr;
  artifact::ArtifactStore* artifacts = nullptr;
  WaitForJob wait_for_job;
  std::filesystem::path tmp_dir;  // where downloads land before unpacking
  // The agents and their desired state, for projects that run on agents
  // (deploy/rollout.h); null when this process has none (they fail).
  store::AgentFleet* agents = nullptr;
};

class RemoteBuild {
 public:
  // spec: how the project is built; env: the project's `env`, passed to the
  // builder as "KEY=value" (the builder adds its own environment and the
  // ANTHILL_* variables); labels: what the builder must have.
  RemoteBuild(Fleet fleet, store::AsyncRecordStore* record, release::Releases* releases,
              StepSink* steps, BuildSpec spec, std::vector<std::string> env,
              std::vector<std::string> labels);

  // Queue -> wait -> download -> unpack; the release's name, or why not.
  boost::asio::awaitable<Result<std::string>> Run(const BuildTarget& t, const BuildControls& c);
  // Queue -> wait, without the download (a project on agents: they fetch
  // the artifact themselves): the finished job, which succeeded and names
  // its artifact and release; else why not.
  boost::asio::awaitable<Result<store::BuildJobRow>> Built(const BuildTarget& t,
                                                           const BuildControls& c);
  // The succeeded build job whose artifact unpacks to `release` and is
  // still kept (a rollback by hand on agents); kNotFound once it was pruned.
  boost::asio::awaitable<Result<store::BuildJobRow>> ArtifactOf(std::string release);

 private:
  boost::asio::awaitable<Result<store::BuildJobRow>> WaitForEnd(int64_t job_id,
                                                                const BuildTarget& t,
                                                                const BuildControls& c);
  boost::asio::awaitable<Status> Download(const store::BuildJobRow& job, const BuildTarget& t);

  Fleet fleet_;
  store::AsyncRecordStore* record_;
  release::Releases* releases_;
  StepSink* steps_;
  BuildSpec spec_;
  std::vector<std::string> env_;
  std::vector<std::string> labels_;
};

}  // namespace anthill::deploy
