#include "daemon/fleet.h"

#include "artifact/s3_store.h"
#include "http/artifact_client.h"

namespace anthill::daemon {

namespace asio = boost::asio;

void FleetParts::Shutdown() {
  if (builder) builder->Shutdown();
  if (listener) listener->Stop();
  if (agents) agents->Stop();
}

namespace {

// Where this process puts and takes artifacts.
Status MakeArtifactStore(const config::Config& config, FleetParts& parts) {
  const config::Artifacts& a = config.artifacts;
  const std::string where = config.file.string() + ": ";
  if (a.store != "orchestrator") {
    auto location = artifact::ParseS3(a.store, a.endpoint, a.region);
    if (!location.ok()) return location.status().Prefixed(where + "[artifacts] store");
    auto credentials = artifact::S3ArtifactStore::CredentialsFromEnvironment();
    if (!credentials.ok()) {
      return credentials.status().Prefixed(where + "[artifacts] store = \"" + a.store +
                                           "\" needs S3 credentials");
    }
    parts.remote_artifacts =
        std::make_unique<artifact::S3ArtifactStore>(*location, std::move(*credentials));
    parts.artifacts = parts.remote_artifacts.get();
    return Status::Ok();
  }
  if (config.server.roles.orchestrator) {
    auto local = artifact::LocalArtifactStore::Open(config.server.data_dir / "artifacts");
    if (!local.ok()) return local.status();
    parts.local_artifacts = std::move(local.value());
    parts.artifacts = parts.local_artifacts.get();
    return Status::Ok();
  }
  if (config.builder.orchestrator.empty()) {
    return Status::InvalidArgument(
        where +
        "[builder] orchestrator is required: a builder without the orchestrator role "
        "uploads its artifacts to the orchestrator's API ([artifacts] store = "
        "\"orchestrator\"), e.g. orchestrator = \"http://deploy.internal:7070\"");
  }
  auto http = http::HttpArtifactStore::Open(config.builder.orchestrator, config.server.token);
  if (!http.ok()) return http.status().Prefixed(where + "[builder] orchestrator");
  parts.remote_artifacts = std::move(http.value());
  parts.artifacts = parts.remote_artifacts.get();
  return Status::Ok();
}

}  // namespace

asio::awaitable<Result<std::unique_ptr<FleetParts>>> OpenFleet(asio::any_io_executor executor,
                                                               const config::Config& config,
                                                               const store::Database& database,
                                                               store::RecordWriter& record) {
  auto parts = std::make_unique<FleetParts>();
  if (Status made = MakeArtifactStore(config, *parts); !made.ok()) co_return made;
  store::PgBuildQueue::Options options;
  auto queue = co_await store::PgBuildQueue::Open(executor, database.postgres, options);
  if (!queue.ok()) co_return queue.status().Prefixed("build queue");
  parts->queue = std::move(queue.value());
  parts->listener = std::make_unique<store::PgJobListener>(executor, database.postgres);
  parts->listener->Start();
  store::PgJobListener* listener = parts->listener.get();

  parts->deploy.queue = parts->queue.get();
  parts->deploy.artifacts = parts->artifacts;
  parts->deploy.tmp_dir = config.server.data_dir / "tmp";
  parts->deploy.wait_for_job = [listener](int64_t id, Duration max_wait) {
    return listener->WaitDone(id, max_wait);
  };

  if (config.server.roles.orchestrator) {
    store::PgProjectOwnership::Options owners;
    auto ownership = co_await store::PgProjectOwnership::Open(executor, database.postgres, owners);
    if (!ownership.ok()) co_return ownership.status().Prefixed("project leases");
    parts->ownership = std::move(ownership.value());
    store::PgAgentFleet::Options agents;
    auto fleet = co_await store::PgAgentFleet::Open(executor, database.postgres, agents);
    if (!fleet.ok()) co_return fleet.status();
    parts->agents = std::move(fleet.value());
    parts->deploy.agents = parts->agents.get();
  }

  if (config.server.roles.builder) {
    builder::BuilderSettings settings;
    settings.info = {config.builder.name, config.builder.labels, config.builder.slots};
    settings.machine = config.server.machine;
    settings.data_dir = config.server.data_dir;
    settings.renew_every = parts->queue->RenewEvery();
    parts->builder = std::make_unique<builder::Builder>(
        executor, settings, *parts->queue, record, *parts->artifacts,
        [listener](Duration max_wait) { return listener->WaitForWork(max_wait); });
  }
  co_return parts;
}

}  // namespace anthill::daemon
