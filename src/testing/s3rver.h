// An S3 server of a test's own: s3rver (npm's s3rver 3.7.1, installed in
// tests/s3/node_modules by scripts/install-deps.sh) run with node, its data
// in a TempDir, listening on 127.0.0.1 on a port the kernel picks (-p 0:
// no race for a port free a moment ago), the buckets given made at start.
// Tests only.
//
// The constructor returns once the server accepts connections and, when it
// cannot start it, fails the test (ADD_FAILURE) with the reason and the
// server's output. A test checks `ASSERT_TRUE(s3.ok()) << s3.error();` and
// never skips. The destructor kills the server (SIGKILL to its process
// group: its data is a test's) and reaps it; the TempDir takes its files.
//
// What s3rver checks and what it does not (read in its
// lib/middleware/authentication.js): a request must be signed and carry
// x-amz-content-sha256; the access key id must be its own ("S3RVER", else
// 403 InvalidAccessKeyId); a SigV4 signature itself is NOT verified, so a
// wrong secret passes. The payload hash is not checked against the body.
//
// Thread: the test's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "os/process.h"
#include "testing/testing.h"

namespace anthill::testing {

class S3rver {
 public:
  // The only credentials s3rver knows.
  static constexpr const char* kAccessKeyId = "S3RVER";
  static constexpr const char* kSecretAccessKey = "S3RVER";

  explicit S3rver(const std::vector<std::string>& buckets = {"anthill"});
  ~S3rver();
  S3rver(const S3rver&) = delete;
  S3rver& operator=(const S3rver&) = delete;

  // Whether the server is up; when not, error() says why.
  bool ok() const { return started_; }
  const std::string& error() const { return error_; }

  int port() const { return port_; }
  // "http://127.0.0.1:<port>": the endpoint for path-style requests.
  std::string Endpoint() const;
  // The file holding an object's bytes, as s3rver stores it on disk
  // ("<data>/<bucket>/<key>._S3rver_object"): for a test to tamper with.
  std::filesystem::path ObjectFile(const std::string& bucket, const std::string& key) const;
  // The JSON s3rver keeps of an object's metadata (its x-amz-meta-*
  // headers among them); empty when there is no such object.
  std::string ObjectMetadata(const std::string& bucket, const std::string& key) const;
  // s3rver's output (its log).
  std::string Log() const;

 private:
  std::string Start(const std::vector<std::string>& buckets);  // "" when started, else why not
  void Stop();

  TempDir dir_;
  os::Child child_;
  bool running_ = false;  // child_ is a live process of ours
  bool started_ = false;
  int port_ = 0;
  std::string error_;
};

}  // namespace anthill::testing
