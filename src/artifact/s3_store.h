// Artifacts in an S3 bucket (or anything speaking its API: MinIO, Ceph, R2,
// s3rver in the tests): an object per key at "<prefix>/<key>", addressed
// path-style (<endpoint>/<bucket>/<prefix>/<key>) so a bucket name with dots
// and a self-hosted endpoint both work. Requests are signed with AWS
// Signature V4 by libcurl (CURLOPT_AWS_SIGV4); each carries the SHA-256 of
// its body (x-amz-content-sha256), so S3 itself refuses an upload whose
// bytes changed on the way. An object also carries its digest as metadata
// (x-amz-meta-sha256) for people looking at the bucket.
//
// Thread: Put, Get and Remove are awaited on the caller's io_context thread;
// every request and file copy runs on the blocking pool (blocking.h), one
// libcurl easy handle per request. The store must outlive its calls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "artifact/artifact_store.h"

namespace anthill::artifact {

struct S3Location {
  std::string bucket;    // "releases"
  std::string prefix;    // "anthill/prod" (no leading or trailing '/'); may be empty
  std::string endpoint;  // "https://s3.eu-west-1.amazonaws.com" (no trailing '/')
  std::string region;    // "eu-west-1"
};

// Reads "s3://bucket" or "s3://bucket/some/prefix/" (trailing '/' dropped).
// An empty `region` is "us-east-1"; an empty `endpoint` is AWS's for the
// region, "https://s3.<region>.amazonaws.com"; one given must start with
// "http://" or "https://". kInvalidArgument, naming what is wrong, for any
// other URL, a bucket name S3 would refuse (3-63 characters of a-z, 0-9, '.'
// and '-', beginning and ending with a letter or digit), or a prefix with an
// empty, "." or ".." segment.
Result<S3Location> ParseS3(std::string_view url, std::string endpoint, std::string region);

class S3ArtifactStore : public ArtifactStore {
 public:
  struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::optional<std::string> session_token;  // temporary credentials (STS)
  };

  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, when set,
  // AWS_SESSION_TOKEN. kInvalidArgument naming each variable that is unset
  // or empty.
  static Result<Credentials> CredentialsFromEnvironment();

  S3ArtifactStore(S3Location location, Credentials credentials);

  // Hashes `file` first (a mismatch with ref is kInvalidArgument and nothing
  // is sent), then PUTs it.
  Awaitable<Status> Put(ArtifactRef ref, std::filesystem::path file) override;
  // GETs the object into a temporary file beside `dest`, hashing as it
  // arrives; renamed to `dest` only when ref.size and ref.sha256 match.
  Awaitable<Status> Get(ArtifactRef ref, std::filesystem::path dest) override;
  // DELETEs the object (S3 answers a missing one as success too).
  Awaitable<Status> Remove(ArtifactRef ref) override;
  // "s3://bucket/prefix"
  std::string Describe() const override;

  // <endpoint>/<bucket>/<prefix>/<key>, each path segment percent-encoded.
  std::string ObjectUrl(std::string_view key) const;

 private:
  Status PutBlocking(const ArtifactRef& ref, const std::filesystem::path& file) const;
  Status GetBlocking(const ArtifactRef& ref, const std::filesystem::path& dest) const;
  Status RemoveBlocking(const ArtifactRef& ref) const;

  S3Location location_;
  Credentials credentials_;
};

}  // namespace anthill::artifact
