// The parts of a fleet one process holds, opened from its config when the
// record is in PostgreSQL (README, "A fleet"): the build queue and its
// listener, the artifact store, and, with the builder role, the builder.
// On SQLite there is no fleet: one process builds and runs everything.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "artifact/artifact_store.h"
#include "artifact/local_store.h"
#include "base/status.h"
#include "builder/builder.h"
#include "config/config.h"
#include "deploy/remote_build.h"
#include "store/database.h"
#include "store/pg_agent_fleet.h"
#include "store/pg_build_queue.h"
#include "store/pg_job_listener.h"
#include "store/pg_project_ownership.h"
#include "store/record_writer.h"

namespace anthill::daemon {

struct FleetParts {
  std::unique_ptr<store::PgBuildQueue> queue;
  std::unique_ptr<store::PgJobListener> listener;
  // [artifacts] store = "orchestrator" in the orchestrator: the directory
  // its API serves. Null otherwise.
  std::unique_ptr<artifact::LocalArtifactStore> local_artifacts;
  // What builds are put in and taken from: local_artifacts, the
  // orchestrator's API (a builder elsewhere) or S3.
  std::unique_ptr<artifact::ArtifactStore> remote_artifacts;
  artifact::ArtifactStore* artifacts = nullptr;
  deploy::Fleet deploy;                       // for the orchestrator's projects
  std::unique_ptr<builder::Builder> builder;  // with the builder role
  // With the orchestrator role: which orchestrator runs each project.
  std::unique_ptr<store::PgProjectOwnership> ownership;
  // With the orchestrator role: the agents, their desired states and
  // reports (projects with `machines` or `labels` run on them).
  std::unique_ptr<store::PgAgentFleet> agents;

  // Ends the listener and the builder's claiming (Builder::Shutdown).
  void Shutdown();
  bool done() const { return !builder || builder->done(); }
};

// Opens the queue (migrating the schema), starts its listener, and makes
// the artifact store; with the builder role, makes the builder (not
// started). Config errors (a builder with no orchestrator to upload to, S3
// without credentials) name the key.
boost::asio::awaitable<Result<std::unique_ptr<FleetParts>>> OpenFleet(
    boost::asio::any_io_executor executor, const config::Config& config,
    const store::Database& database, store::RecordWriter& record);

}  // namespace anthill::daemon
