// The orchestrator's artifact routes (artifacts.h) seen from a builder or a
// machine, as an artifact::ArtifactStore: Put uploads a file, Get downloads
// one and checks it against the record's SHA-256 and size, Remove deletes.
// Bodies pass through a 64 KiB buffer in both directions: an archive of
// hundreds of MB is never held in memory. Each call opens its own
// connection (transfers are few and long; nothing to pool).
//
// Errors as artifact_store.h says, plus: kTimedOut when the orchestrator
// stops answering for 60 s (one chunk, not the whole transfer, is timed).
//
// Thread: coroutines on the caller's io_context thread; the sockets live on
// the caller's executor, and no thread is made.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "artifact/artifact_store.h"
#include "base/status.h"

namespace anthill::http {

class HttpArtifactStore : public artifact::ArtifactStore {
 public:
  using ArtifactRef = artifact::ArtifactRef;

  // base_url: "http://host:port" (port 80 when absent; a trailing '/' is
  // fine), the orchestrator's [server] listen address. token: sent as
  // "Authorization: Bearer <token>" when not empty. Fails, kInvalidArgument,
  // for another scheme (no TLS here), a path, or no host.
  static Result<std::unique_ptr<HttpArtifactStore>> Open(std::string_view base_url,
                                                         std::string token = "");

  // Uploads `file` (whose size must be ref.size) with ref.sha256 as
  // X-Anthill-Sha256: the orchestrator checks the bytes and keeps nothing on
  // a mismatch (kInvalidArgument "checksum mismatch ..."). The body is sent
  // only once the orchestrator answered "100 Continue", so a refusal (a
  // wrong token: kUnauthenticated) costs no upload.
  Awaitable<Status> Put(ArtifactRef ref, std::filesystem::path file) override;
  // Downloads into a temporary name beside `dest`, hashing as the bytes
  // arrive, and renames it onto `dest` once size and SHA-256 are ref's. A
  // connection cut midway is resumed once from the bytes already written
  // (Range, with If-Range on the ETag so that another version is not
  // spliced on). On any error nothing is at `dest` and the temporary is gone.
  Awaitable<Status> Get(ArtifactRef ref, std::filesystem::path dest) override;
  // DELETE; a key that is not there is fine.
  Awaitable<Status> Remove(ArtifactRef ref) override;
  // "orchestrator at http://127.0.0.1:7070"
  std::string Describe() const override;

 private:
  struct Transfer;
  HttpArtifactStore(std::string url, std::string host, std::string port, std::string host_header,
                    std::string token);
  // One GET of ref.key from t's bytes on; *cut when the connection ended
  // after a part of the body (worth resuming).
  Awaitable<Status> Receive(const ArtifactRef& ref, Transfer& t, bool* cut);

  std::string url_;          // "http://127.0.0.1:7070", for messages
  std::string host_, port_;  // what is resolved
  std::string host_header_;  // as in the URL
  std::string token_;
};

}  // namespace anthill::http
