// Where built releases are kept between the builder that packs them and the
// machines that run them: an archive per release, named by its key
// "<project>/<version>.tar.zst", with its SHA-256 and size recorded with the
// deployment (the record is the source of truth; a store only holds bytes).
//
// Three stores share this interface:
//   LocalArtifactStore  a directory on the orchestrator, content-addressed
//                       (local_store.h); what the orchestrator's API serves;
//   HttpArtifactStore   the orchestrator's API seen from a builder or agent
//                       (http/artifact_client.h);
//   S3ArtifactStore     an S3 bucket and prefix, requests signed with AWS
//                       Signature V4 by libcurl (s3_store.h).
//
// Transfers never block the io_context thread: a store does its blocking
// work (file copies, libcurl's easy API) on a thread of its own and resumes
// the caller on the caller's executor.
//
// Errors: a key that is not there is kNotFound; bytes whose SHA-256 or size
// differ from the expected ones are kInvalidArgument, the message starting
// "checksum mismatch" (or "size mismatch"), and nothing is left at `dest`; a
// server that cannot be reached is kUnavailable; one that refuses the
// credentials (401, 403) is kUnauthenticated, any other refusal kInternal,
// with the server's answer in the message.
//
// Thread: coroutines on the caller's io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill::artifact {

// What the record keeps of an artifact.
struct ArtifactRef {
  std::string key;     // "<project>/<version>.tar.zst"
  std::string sha256;  // lowercase hex, 64 characters
  int64_t size = 0;    // bytes
};

class ArtifactStore {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  virtual ~ArtifactStore() = default;

  // Stores the bytes of `file` under ref.key. ref.sha256 and ref.size are the
  // file's (Pack computed them); a store that can check them does, and a
  // mismatch is kInvalidArgument ("checksum mismatch"). Putting the same key again with the same
  // bytes succeeds.
  virtual Awaitable<Status> Put(ArtifactRef ref, std::filesystem::path file) = 0;

  // Downloads ref.key into `dest` (written to a temporary name beside it,
  // then renamed) and verifies ref.sha256 and ref.size on the bytes
  // received. On any error nothing is at `dest`.
  virtual Awaitable<Status> Get(ArtifactRef ref, std::filesystem::path dest) = 0;

  // Removes ref.key; one that is not there is fine (Ok).
  virtual Awaitable<Status> Remove(ArtifactRef ref) = 0;

  // "orchestrator", "s3://bucket/prefix": for messages.
  virtual std::string Describe() const = 0;
};

// Whether `key` is one a store accepts: "<project>/<file>" where project is
// [A-Za-z0-9._-]+ and file is [A-Za-z0-9._-]+ ending ".tar.zst" or
// ".tar.gz", neither "." nor "..", each at most 255 bytes (a file name's
// limit). Keys become paths and URLs: nothing else may reach them.
bool ValidKey(std::string_view key);

// The key of a build of `project` (a valid project name) at `version`:
// "<project>/<version>.tar.zst", each byte of the version a key may not hold
// written '_' ("feature/x" -> "feature_x").
std::string KeyFor(std::string_view project, std::string_view version);

}  // namespace anthill::artifact
