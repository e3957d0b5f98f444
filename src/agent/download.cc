#include "agent/download.h"

#include "agent/environment.h"
#include "artifact/blocking.h"
#include "artifact/pack.h"
#include "artifact/s3_store.h"
#include "http/artifact_client.h"

namespace anthill::agent {

namespace asio = boost::asio;
namespace fs = std::filesystem;

Result<std::unique_ptr<artifact::ArtifactStore>> OpenArtifactStore(
    const deploy::AgentArtifactStore& where, const std::string& orchestrator_url,
    const std::string& token) {
  if (where.store.empty() || where.store == "orchestrator") {
    auto http = http::HttpArtifactStore::Open(orchestrator_url, token);
    if (!http.ok()) return http.status();
    return std::unique_ptr<artifact::ArtifactStore>(std::move(http.value()));
  }
  auto location = artifact::ParseS3(where.store, where.endpoint, where.region);
  if (!location.ok()) return location.status().Prefixed("the desired state's artifact store");
  auto credentials = artifact::S3ArtifactStore::CredentialsFromEnvironment();
  if (!credentials.ok()) {
    return credentials.status().Prefixed("artifacts in " + where.store + " need credentials");
  }
  return std::unique_ptr<artifact::ArtifactStore>(
      new artifact::S3ArtifactStore(std::move(location.value()), std::move(credentials.value())));
}

asio::awaitable<Status> FetchRelease(artifact::ArtifactStore* store, release::Releases* releases,
                                     fs::path tmp_dir, deploy::StepSink* steps,
                                     int64_t deployment_id, std::string project,
                                     deploy::AgentRelease r) {
  if (releases->Exists(r.release)) co_return Status::Ok();
  deploy::StepRecord step(*steps, deployment_id, project, store::StepName::kDownload);
  if (!SafeName(r.release) || r.release.ends_with(".tmp") || r.release.ends_with(".partial")) {
    co_return step.End(Status::InvalidArgument("'" + r.release + "' is not a release name"));
  }
  std::error_code ec;
  fs::create_directories(tmp_dir, ec);
  fs::create_directories(releases->releases_dir(), ec);
  const fs::path archive = tmp_dir / ("download-" + project + "-" + r.release + ".tar.zst");
  artifact::ArtifactRef ref{r.artifact_key, r.sha256, r.size};
  asio::awaitable<Status> getting = store->Get(ref, archive);
  Status got = co_await std::move(getting);
  if (!got.ok()) {
    co_return step.End(got.Prefixed("artifact " + r.artifact_key + " from " + store->Describe()));
  }
  // Unpacking hundreds of MB takes a while: off the loop.
  auto unpack = [archive, into = releases->PathOf(r.release)] {
    return artifact::Unpack(archive, into);
  };
  asio::awaitable<Status> unpacking = artifact::RunBlocking(std::move(unpack));
  Status unpacked = co_await std::move(unpacking);
  fs::remove(archive, ec);
  co_return step.End(unpacked.Prefixed("unpacking " + r.artifact_key));
}

}  // namespace anthill::agent
