// Phase 1 of a rollout on an agent: a release the desired state names is
// brought into releases/ from the artifact store the desired state names
// (the orchestrator's API, or S3), its SHA-256 and size checked as the bytes
// arrive (the stores' Get), then unpacked, as deploy/remote_build.cc's
// Download does on an orchestrator.
//
// Thread: the io_context thread; unpacking runs on the artifact module's
// blocking pool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "artifact/artifact_store.h"
#include "base/status.h"
#include "deploy/agent_protocol.h"
#include "deploy/step_sink.h"
#include "release/releases.h"

namespace anthill::agent {

// The store `where` names: "orchestrator" is the API at orchestrator_url
// with the agent's token; anything else is an S3 URL ("s3://bucket/prefix"),
// reached with the credentials in the agent's environment (AWS_*).
// kInvalidArgument when it cannot be used, naming why.
Result<std::unique_ptr<artifact::ArtifactStore>> OpenArtifactStore(
    const deploy::AgentArtifactStore& where, const std::string& orchestrator_url,
    const std::string& token);

// Brings `r` into `releases` (nothing to do when it is there): downloaded
// into tmp_dir, checked, unpacked into releases/<r.release>, recorded as a
// "download" step of `deployment_id`. On failure nothing is left at the
// release's name nor in tmp_dir, and the error says which artifact, from
// where, and why ("checksum mismatch ..." for bytes that are not r's).
boost::asio::awaitable<Status> FetchRelease(artifact::ArtifactStore* store,
                                            release::Releases* releases,
                                            std::filesystem::path tmp_dir, deploy::StepSink* steps,
                                            int64_t deployment_id, std::string project,
                                            deploy::AgentRelease r);

}  // namespace anthill::agent
