// The orchestrator's own artifact store: a directory, content-addressed.
//
//   <root>/sha256/<hex>            the bytes of an archive, read-only, once
//                                  however many keys name them
//   <root>/keys/<project>/<file>   "<hex> <size>\n": what a key names
//   <root>/tmp/                    uploads and copies under way
//
// Every file is written under a temporary name and renamed, so a reader (or
// a crash) sees a whole blob or key file or none. A key is only written
// after its blob is in place, and a blob is only removed when no key names
// it, so a key found always has its bytes.
//
// Thread: the coroutines (Put, Get, Remove) are awaited on the caller's
// io_context thread and do their file work on the blocking pool; Find,
// BlobPath and TempDir may be called from any thread; Adopt blocks (it
// hashes the whole file) and belongs on the blocking pool too. Keys and
// blobs are changed under one mutex, held only for renames and unlinks,
// never for a copy.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "artifact/artifact_store.h"

namespace anthill::artifact {

class LocalArtifactStore : public ArtifactStore {
 public:
  // Opens the store at `root`, creating it and its sha256/, keys/ and tmp/
  // when missing. Fails when they cannot be made.
  static Result<std::unique_ptr<LocalArtifactStore>> Open(std::filesystem::path root);

  // Copies `file` into the store, checking on the way that its bytes are
  // ref.sha256 and ref.size (else kInvalidArgument "checksum mismatch ..." /
  // "size mismatch ...", and the store is as it was). A key that named other
  // bytes now names these; bytes no key names any more are removed.
  Awaitable<Status> Put(ArtifactRef ref, std::filesystem::path file) override;
  // Copies the bytes ref.key names to `dest`, checked against ref.sha256 and
  // ref.size. kNotFound when no key ref.key is stored.
  Awaitable<Status> Get(ArtifactRef ref, std::filesystem::path dest) override;
  // Removes the key, and its bytes when no other key names them.
  Awaitable<Status> Remove(ArtifactRef ref) override;
  // "local store <root>"
  std::string Describe() const override;

  // What `key` names now; nullopt when it is not a valid key or not stored.
  std::optional<ArtifactRef> Find(std::string_view key) const;
  // Where the bytes of `ref` are (whether or not they are there): for
  // serving them as they are. REQUIRES: ref.sha256 is 64 lowercase hex
  // digits (as Find returns it).
  std::filesystem::path BlobPath(const ArtifactRef& ref) const;
  // Takes `uploaded_tmp_file` (on the same filesystem as the store, such as
  // a file in TempDir()) into the store under `key`: hashes it and renames
  // it into place. When `expected_sha256` is given and differs: kInvalid-
  // Argument "checksum mismatch ...". The file is consumed either way: it is
  // in the store, or removed. Blocking.
  Result<ArtifactRef> Adopt(std::string key, const std::filesystem::path& uploaded_tmp_file,
                            std::optional<std::string> expected_sha256);
  // <root>/tmp: where an upload is streamed before Adopt.
  std::filesystem::path TempDir() const { return root_ / "tmp"; }

 private:
  explicit LocalArtifactStore(std::filesystem::path root) : root_(std::move(root)) {}

  // The blocking halves of the coroutines, run on the pool.
  Status PutBlocking(const ArtifactRef& ref, const std::filesystem::path& file);
  Status GetBlocking(const ArtifactRef& ref, const std::filesystem::path& dest) const;
  Status RemoveBlocking(const ArtifactRef& ref);

  // With mu_ held: makes `key` name ref's blob, which `blob_tmp` holds
  // unless the blob is there already (then blob_tmp is removed), and
  // removes the blob the key named before when no key names it now.
  Status Commit(const ArtifactRef& ref, const std::filesystem::path& blob_tmp);
  // With mu_ held: removes the blob `sha256` when no key file names it.
  void CollectBlob(const std::string& sha256);

  std::filesystem::path KeyPath(std::string_view key) const { return root_ / "keys" / key; }

  std::filesystem::path root_;
  std::mutex mu_;  // guards the keys/ and sha256/ trees (not tmp/)
};

}  // namespace anthill::artifact
