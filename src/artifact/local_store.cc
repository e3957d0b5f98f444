#include "artifact/local_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>

#include "artifact/blocking.h"
#include "artifact/digest.h"
#include "artifact/pack.h"
#include "base/files.h"

namespace anthill::artifact {

namespace fs = std::filesystem;

namespace {

std::string ErrnoText() { return std::strerror(errno); }

// "<hex> <size>\n" -> the ref; nullopt for anything else (a key file this
// store did not write).
std::optional<ArtifactRef> ParseKeyFile(std::string_view key, std::string_view text) {
  if (text.size() < 67 || text.back() != '\n' || text[64] != ' ') return std::nullopt;
  ArtifactRef ref;
  ref.key = std::string(key);
  ref.sha256 = std::string(text.substr(0, 64));
  if (!IsSha256Hex(ref.sha256)) return std::nullopt;
  const char* first = text.data() + 65;
  const char* last = text.data() + text.size() - 1;
  auto [end, ec] = std::from_chars(first, last, ref.size);
  if (ec != std::errc() || end != last || ref.size < 0) return std::nullopt;
  return ref;
}

// Writes `text` to `path` through a temporary name and a rename, flushed
// first: a reader sees the old key file or the new one, never a part.
Status WriteReplacing(const fs::path& path, const std::string& text) {
  const fs::path tmp = TempSibling(path);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Internal("cannot create " + tmp.string() + ": " + ErrnoText());
  std::string failed;
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    failed = "cannot write " + tmp.string() + ": " + ErrnoText();
  } else if (fsync(fd) != 0) {
    failed = "cannot sync " + tmp.string() + ": " + ErrnoText();
  }
  close(fd);
  if (failed.empty() && rename(tmp.c_str(), path.c_str()) != 0) {
    failed = "cannot rename " + tmp.string() + " to " + path.string() + ": " + ErrnoText();
  }
  if (!failed.empty()) {
    unlink(tmp.c_str());
    return Status::Internal(failed);
  }
  return Status::Ok();
}

Status CheckRef(const ArtifactRef& ref) {
  if (!ValidKey(ref.key)) return Status::InvalidArgument("invalid artifact key '" + ref.key + "'");
  if (!IsSha256Hex(ref.sha256)) {
    return Status::InvalidArgument("artifact " + ref.key + ": sha256 '" + ref.sha256 +
                                   "' is not 64 lowercase hex digits");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<LocalArtifactStore>> LocalArtifactStore::Open(fs::path root) {
  for (const char* sub : {"sha256", "keys", "tmp"}) {
    std::error_code ec;
    fs::create_directories(root / sub, ec);
    if (ec) {
      return Status::Internal("artifact store: cannot create " + (root / sub).string() + ": " +
                              ec.message());
    }
  }
  return std::unique_ptr<LocalArtifactStore>(new LocalArtifactStore(std::move(root)));
}

std::string LocalArtifactStore::Describe() const { return "local store " + root_.string(); }

ArtifactStore::Awaitable<Status> LocalArtifactStore::Put(ArtifactRef ref, fs::path file) {
  auto job = [this, ref, file] { return PutBlocking(ref, file); };
  Awaitable<Status> done = RunBlocking(std::move(job));
  co_return co_await std::move(done);
}

ArtifactStore::Awaitable<Status> LocalArtifactStore::Get(ArtifactRef ref, fs::path dest) {
  auto job = [this, ref, dest] { return GetBlocking(ref, dest); };
  Awaitable<Status> done = RunBlocking(std::move(job));
  co_return co_await std::move(done);
}

ArtifactStore::Awaitable<Status> LocalArtifactStore::Remove(ArtifactRef ref) {
  auto job = [this, ref] { return RemoveBlocking(ref); };
  Awaitable<Status> done = RunBlocking(std::move(job));
  co_return co_await std::move(done);
}

std::optional<ArtifactRef> LocalArtifactStore::Find(std::string_view key) const {
  if (!ValidKey(key)) return std::nullopt;
  Result<std::string> text = ReadFile(KeyPath(key));
  if (!text.ok()) return std::nullopt;
  return ParseKeyFile(key, *text);
}

fs::path LocalArtifactStore::BlobPath(const ArtifactRef& ref) const {
  return root_ / "sha256" / ref.sha256;
}

Status LocalArtifactStore::PutBlocking(const ArtifactRef& ref, const fs::path& file) {
  Status valid = CheckRef(ref);
  if (!valid.ok()) return valid;
  const std::string what = "artifact " + ref.key + " from " + file.string();
  std::error_code ec;
  if (fs::exists(BlobPath(ref), ec)) {
    // The bytes are stored already (another key, or this one again): the
    // file is still checked, as a Put of other bytes must fail the same way
    // whether or not its claimed digest happens to be stored.
    Result<Packed> got = HashFile(file);
    if (!got.ok()) return got.status();
    Status same = Verify(what, *got, ref.sha256, ref.size);
    if (!same.ok()) return same;
    std::lock_guard lock(mu_);
    // Looked at again under the lock: a Remove may have taken the blob
    // since, and a key must never name bytes that are not there.
    if (fs::exists(BlobPath(ref), ec)) return Commit(ref, {});
  }
  const fs::path tmp = TempSibling(TempDir() / ref.sha256);
  Result<Packed> got = CopyHashing(file, tmp);
  if (!got.ok()) return got.status();
  Status same = Verify(what, *got, ref.sha256, ref.size);
  if (!same.ok()) {
    unlink(tmp.c_str());
    return same;
  }
  chmod(tmp.c_str(), 0444);  // a blob never changes once named by its digest
  std::lock_guard lock(mu_);
  return Commit(ref, tmp);
}

Status LocalArtifactStore::GetBlocking(const ArtifactRef& ref, const fs::path& dest) const {
  if (!ValidKey(ref.key)) return Status::InvalidArgument("invalid artifact key '" + ref.key + "'");
  std::optional<ArtifactRef> stored = Find(ref.key);
  if (!stored) return Status::NotFound("artifact " + ref.key + " not found in " + Describe());
  // The bytes the key names now are checked against the ref the caller
  // holds (the record's), not against the key file: a key put again with
  // other bytes fails here as a checksum mismatch.
  const fs::path tmp = TempSibling(dest);
  Result<Packed> got = CopyHashing(BlobPath(*stored), tmp);
  if (!got.ok()) return got.status().Prefixed("artifact " + ref.key);
  Status same = Verify("artifact " + ref.key, *got, ref.sha256, ref.size);
  if (same.ok() && rename(tmp.c_str(), dest.c_str()) != 0) {
    same = Status::Internal("cannot rename " + tmp.string() + " to " + dest.string() + ": " +
                            ErrnoText());
  }
  if (!same.ok()) unlink(tmp.c_str());
  return same;
}

Status LocalArtifactStore::RemoveBlocking(const ArtifactRef& ref) {
  if (!ValidKey(ref.key)) return Status::InvalidArgument("invalid artifact key '" + ref.key + "'");
  std::lock_guard lock(mu_);
  std::optional<ArtifactRef> stored = Find(ref.key);
  if (!stored) return Status::Ok();
  const fs::path key_file = KeyPath(ref.key);
  if (unlink(key_file.c_str()) != 0 && errno != ENOENT) {
    return Status::Internal("cannot remove " + key_file.string() + ": " + ErrnoText());
  }
  CollectBlob(stored->sha256);
  // The project's directory goes with its last key (rmdir fails otherwise).
  rmdir(key_file.parent_path().c_str());
  return Status::Ok();
}

Result<ArtifactRef> LocalArtifactStore::Adopt(std::string key, const fs::path& uploaded_tmp_file,
                                              std::optional<std::string> expected_sha256) {
  auto refuse = [&](Status why) -> Result<ArtifactRef> {
    unlink(uploaded_tmp_file.c_str());
    return why;
  };
  if (!ValidKey(key)) return refuse(Status::InvalidArgument("invalid artifact key '" + key + "'"));
  Result<Packed> got = HashFile(uploaded_tmp_file);
  if (!got.ok()) return refuse(got.status());
  if (expected_sha256 && *expected_sha256 != got->sha256) {
    return refuse(Status::InvalidArgument("checksum mismatch for artifact " + key +
                                          ": expected sha256 " + *expected_sha256 + ", got " +
                                          got->sha256));
  }
  ArtifactRef ref{std::move(key), got->sha256, got->size};
  chmod(uploaded_tmp_file.c_str(), 0444);
  std::lock_guard lock(mu_);
  Status committed = Commit(ref, uploaded_tmp_file);
  if (!committed.ok()) return refuse(committed);
  return ref;
}

Status LocalArtifactStore::Commit(const ArtifactRef& ref, const fs::path& blob_tmp) {
  const fs::path blob = BlobPath(ref);
  if (!blob_tmp.empty()) {
    std::error_code ec;
    if (fs::exists(blob, ec)) {
      // Same digest, same bytes: the copy made meanwhile is not needed.
      unlink(blob_tmp.c_str());
    } else if (rename(blob_tmp.c_str(), blob.c_str()) != 0) {
      // EXDEV: an Adopt of a file on another filesystem.
      Status failed = Status::Internal("cannot rename " + blob_tmp.string() + " to " +
                                       blob.string() + ": " + ErrnoText());
      unlink(blob_tmp.c_str());
      return failed;
    }
  }
  const std::optional<ArtifactRef> before = Find(ref.key);
  const fs::path key_file = KeyPath(ref.key);
  std::error_code ec;
  fs::create_directories(key_file.parent_path(), ec);
  if (ec) {
    return Status::Internal("cannot create " + key_file.parent_path().string() + ": " +
                            ec.message());
  }
  Status written = WriteReplacing(key_file, ref.sha256 + " " + std::to_string(ref.size) + "\n");
  if (!written.ok()) return written;
  if (before && before->sha256 != ref.sha256) CollectBlob(before->sha256);
  return Status::Ok();
}

void LocalArtifactStore::CollectBlob(const std::string& sha256) {
  // A scan of every key file: the orchestrator keeps hundreds of artifacts,
  // not millions, and a scan cannot drift from the truth as a count could.
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root_ / "keys", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    // Only key files: a key file being written (TempSibling's name) is not
    // one, and the key it will be is the caller's, already counted.
    const std::string key =
        it->path().parent_path().filename().string() + "/" + it->path().filename().string();
    if (!ValidKey(key)) continue;
    if (ReadWholeFile(it->path()).compare(0, 64, sha256) == 0) return;
  }
  if (ec) return;  // keys not all seen: keeping a blob is the safe mistake
  const fs::path blob = root_ / "sha256" / sha256;
  unlink(blob.c_str());
}

}  // namespace anthill::artifact
