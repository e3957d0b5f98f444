#include "artifact/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "artifact/digest.h"

namespace anthill::artifact {

namespace fs = std::filesystem;

namespace {

constexpr size_t kBlock = 1 << 16;

std::string ErrnoText(int e) { return std::strerror(e); }

std::string ArchiveError(archive* a) {
  const char* s = archive_error_string(a);
  return s != nullptr ? s : "unknown libarchive error";
}

// ---- Pack ----

// Where the compressed bytes go: the temporary file, hashed on the way so
// the archive is read once (by libarchive, from the tree) and never again.
struct Sink {
  int fd = -1;
  Sha256 sha;
  int64_t size = 0;
};

la_ssize_t WriteToSink(archive* a, void* client, const void* buffer, size_t length) {
  auto* sink = static_cast<Sink*>(client);
  const char* p = static_cast<const char*>(buffer);
  for (size_t done = 0; done < length;) {
    ssize_t n = write(sink->fd, p + done, length - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      archive_set_error(a, errno, "%s", std::strerror(errno));
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  sink->sha.Update(buffer, length);
  sink->size += static_cast<int64_t>(length);
  return static_cast<la_ssize_t>(length);
}

class Packer {
 public:
  Packer(archive* a, fs::path root) : a_(a), root_(std::move(root)) {}

  // Adds every entry under root_/rel (rel "" is the root, which itself is
  // not an entry), depth first, in byte order of the names.
  Status AddChildren(const std::string& rel) {
    const fs::path dir = rel.empty() ? root_ : root_ / rel;
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) return Failed(rel.empty() ? "." : rel, "cannot list: " + ec.message());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      const std::string child = rel.empty() ? name : rel + "/" + name;
      Status added = Add(child);
      if (!added.ok()) return added;
    }
    return Status::Ok();
  }

 private:
  Status Failed(const std::string& rel, const std::string& why) const {
    return Status::Internal(rel + ": " + why);
  }

  Status Add(const std::string& rel) {
    const fs::path full = root_ / rel;
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) return Failed(rel, ErrnoText(errno));
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                        &archive_entry_free);
    archive_entry* e = entry.get();
    // copy_pathname stores the bytes as they are: a name that is not UTF-8
    // comes back the same (the pax writer is in hdrcharset=BINARY).
    archive_entry_copy_pathname(e, rel.c_str());
    archive_entry_set_perm(e, st.st_mode & 07777);
    // Whole seconds: sub-second times would give every entry a pax header.
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
    // Owners are the unpacking machine's business: numeric 0, no names, so
    // no user name of the build machine travels with the release.
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (S_ISREG(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
      archive_entry_set_filetype(e, AE_IFDIR);
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      fs::path target = fs::read_symlink(full, ec);
      if (ec) return Failed(rel, "cannot read link: " + ec.message());
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_copy_symlink(e, target.c_str());
    } else {
      return Status::InvalidArgument(rel + ": not a regular file, directory or symlink");
    }
    if (archive_write_header(a_, e) < ARCHIVE_WARN) return Failed(rel, ArchiveError(a_));
    if (S_ISREG(st.st_mode)) {
      Status data = AddData(rel, full, st.st_size);
      if (!data.ok()) return data;
    }
    if (S_ISDIR(st.st_mode)) return AddChildren(rel);
    return Status::Ok();
  }

  // Writes exactly `size` bytes of the file: the header already promised
  // that many, so a file that shrank meanwhile is an error, not a short entry.
  Status AddData(const std::string& rel, const fs::path& full, int64_t size) {
    int fd = open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Failed(rel, "cannot open: " + ErrnoText(errno));
    std::vector<char> buffer(kBlock);
    Status out = Status::Ok();
    int64_t left = size;
    while (left > 0) {
      ssize_t n = read(fd, buffer.data(), static_cast<size_t>(std::min<int64_t>(left, kBlock)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        out = Failed(rel, "cannot read: " + ErrnoText(errno));
        break;
      }
      if (n == 0) {
        out = Failed(rel, "changed while it was packed (shorter than its size)");
        break;
      }
      if (archive_write_data(a_, buffer.data(), static_cast<size_t>(n)) < 0) {
        out = Failed(rel, ArchiveError(a_));
        break;
      }
      left -= n;
    }
    close(fd);
    return out;
  }

  archive* a_;
  fs::path root_;
};

Result<Packed> PackTo(const fs::path& dir, const fs::path& tmp) {
  Sink sink;
  sink.fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (sink.fd < 0) {
    return Status::Internal("cannot create " + tmp.string() + ": " + ErrnoText(errno));
  }
  // Declared after the sink, so freed before it: freeing an archive that is
  // still open writes its end through WriteToSink.
  std::unique_ptr<archive, decltype(&archive_write_free)> owned(archive_write_new(),
                                                                &archive_write_free);
  archive* a = owned.get();
  Status packed = Status::Ok();
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_set_format_option(a, "pax", "hdrcharset", "BINARY") != ARCHIVE_OK ||
      archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
      // No padding of the last block: the file ends where zstd's frame does.
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
      archive_write_open(a, &sink, nullptr, &WriteToSink, nullptr) != ARCHIVE_OK) {
    packed = Status::Internal(ArchiveError(a));
  }
  if (packed.ok()) packed = Packer(a, dir).AddChildren("");
  // close flushes zstd's last frame through WriteToSink.
  if (packed.ok() && archive_write_close(a) != ARCHIVE_OK) {
    packed = Status::Internal(ArchiveError(a));
  }
  if (packed.ok() && fsync(sink.fd) != 0) {
    packed = Status::Internal("cannot sync " + tmp.string() + ": " + ErrnoText(errno));
  }
  // Freed here, while the sink is alive (after a failure, the end it
  // writes lands in the temporary file, which Pack removes).
  owned.reset();
  close(sink.fd);
  if (!packed.ok()) return packed;
  return Packed{sink.sha.HexDigest(), sink.size};
}

// ---- Unpack ----

// Makes every directory under (and including) `dir` writable and
// searchable, then removes it all: an unpacked release may hold read-only
// directories, which remove_all cannot empty.
void RemoveTree(const fs::path& dir) {
  std::error_code ec;
  if (fs::symlink_status(dir, ec).type() == fs::file_type::directory) {
    chmod(dir.c_str(), 0700);
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->symlink_status(ec).type() == fs::file_type::directory) RemoveTree(it->path());
    }
  }
  fs::remove_all(dir, ec);
}

// Whether an entry's name is one Unpack may write: relative, with no ".."
// component. libarchive's SECURE_NODOTDOT checks ".." again on the full path.
std::string BadName(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (name.front() == '/') return "an absolute path";
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    if (name.substr(start, end - start) == "..") return "a '..' component";
    start = end + 1;
  }
  return "";
}

class Extractor {
 public:
  Extractor(const fs::path& archive_path, const fs::path& into)
      : archive_path_(archive_path), into_(into) {}
  ~Extractor() {
    if (in_ != nullptr) archive_read_free(in_);
    if (out_ != nullptr) archive_write_free(out_);
  }

  Status Run() {
    in_ = archive_read_new();
    out_ = archive_write_disk_new();
    if (in_ == nullptr || out_ == nullptr) return Status::Internal("libarchive: out of memory");
    archive_read_support_filter_all(in_);
    archive_read_support_format_tar(in_);
    if (archive_read_open_filename(in_, archive_path_.c_str(), kBlock) != ARCHIVE_OK) {
      return Status::Internal("cannot open " + archive_path_.string() + ": " + ArchiveError(in_));
    }
    // Entries are written under their absolute path in `into_` (below), as
    // libarchive writes relative names against the process's working
    // directory, which a multi-threaded daemon cannot change. So
    // SECURE_NOABSOLUTEPATHS, which would refuse every such name, is left
    // out: absolute names in the archive are refused by BadName instead.
    // SECURE_SYMLINKS: nothing is written through a symlink (one the archive
    // made earlier, pointing anywhere); `into_` has no symlink above it, as
    // Unpack made its parent canonical.
    archive_write_disk_set_options(out_, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                             ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    std::string last = "(the first entry)";
    for (;;) {
      archive_entry* entry = nullptr;
      int r = archive_read_next_header(in_, &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) {
        return Status::InvalidArgument("after entry '" + last + "': " + ArchiveError(in_));
      }
      const char* raw = archive_entry_pathname(entry);
      const std::string name = raw != nullptr ? raw : "";
      last = name;
      Status one = Entry(entry, name);
      if (!one.ok()) return one.Prefixed("entry '" + name + "'");
    }
    // Directory modes and times are set here, last, so that a read-only
    // directory could still be filled.
    if (archive_write_close(out_) != ARCHIVE_OK) return WriteError();
    return Status::Ok();
  }

 private:
  Status Entry(archive_entry* entry, const std::string& name) {
    std::string bad = BadName(name);
    if (!bad.empty()) return Status::InvalidArgument("refused: " + bad);
    // Before the type: a hard link's entry has no file type of its own.
    if (archive_entry_hardlink(entry) != nullptr) {
      return Status::InvalidArgument("refused: a hard link");
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
      case AE_IFDIR:
      case AE_IFLNK:
        break;
      default:
        return Status::InvalidArgument("refused: not a regular file, directory or symlink");
    }
    archive_entry_set_perm(entry, archive_entry_perm(entry) & ~static_cast<mode_t>(06000));
    const std::string target = (into_ / name).string();
    archive_entry_copy_pathname(entry, target.c_str());
    if (archive_write_header(out_, entry) < ARCHIVE_WARN) return WriteError();
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      int r = archive_read_data_block(in_, &block, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return Status::InvalidArgument(ArchiveError(in_));
      if (archive_write_data_block(out_, block, size, offset) < ARCHIVE_WARN) return WriteError();
    }
    if (archive_write_finish_entry(out_) < ARCHIVE_WARN) return WriteError();
    return Status::Ok();
  }

  // libarchive's own refusals (a symlink in the way, "..") carry no errno
  // but its private ARCHIVE_ERRNO_MISC, -1; a failing disk has a real one.
  Status WriteError() {
    std::string why = ArchiveError(out_);
    int e = archive_errno(out_);
    return e == -1 || e == 0 ? Status::InvalidArgument(why) : Status::Internal(why);
  }

  fs::path archive_path_;
  fs::path into_;
  archive* in_ = nullptr;
  archive* out_ = nullptr;
};

}  // namespace

Result<Packed> Pack(const fs::path& dir, const fs::path& out_file) {
  const std::string what = "pack " + dir.string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound(what + ": not a directory");
  }
  // The temporary archive would otherwise be packed into itself.
  std::error_code root_ec;
  std::error_code out_ec;
  const fs::path root = fs::canonical(dir, root_ec);
  const fs::path out_dir = fs::weakly_canonical(fs::absolute(out_file).parent_path(), out_ec);
  if (!root_ec && !out_ec) {
    auto [r, o] = std::mismatch(root.begin(), root.end(), out_dir.begin(), out_dir.end());
    if (r == root.end()) {
      return Status::InvalidArgument(what + ": the archive " + out_file.string() +
                                     " would be inside the directory it packs");
    }
  }
  const fs::path tmp = TempSibling(out_file);
  Result<Packed> packed = PackTo(dir, tmp);
  if (packed.ok() && rename(tmp.c_str(), out_file.c_str()) != 0) {
    packed = Status::Internal("cannot rename " + tmp.string() + " to " + out_file.string() + ": " +
                              ErrnoText(errno));
  }
  if (!packed.ok()) {
    unlink(tmp.c_str());
    return packed.status().Prefixed(what);
  }
  return packed;
}

Status Unpack(const fs::path& archive_path, const fs::path& dest) {
  const std::string what = "unpack " + archive_path.string();
  std::error_code ec;
  if (fs::symlink_status(dest, ec).type() != fs::file_type::not_found) {
    return Status::Conflict(what + ": " + dest.string() + " already exists");
  }
  if (!fs::exists(archive_path, ec)) return Status::NotFound(what + ": no such file");
  // Canonical, so no symlink lies above the entries (SECURE_SYMLINKS would
  // refuse one, such as a $TMPDIR that is a link).
  fs::path parent = fs::absolute(dest, ec).parent_path();
  parent = fs::canonical(parent, ec);
  if (ec) return Status::Internal(what + ": " + dest.parent_path().string() + ": " + ec.message());
  const fs::path final_dest = parent / dest.filename();
  const fs::path partial = parent / (dest.filename().string() + ".partial");
  RemoveTree(partial);  // what a crash in an earlier Unpack left
  if (mkdir(partial.c_str(), 0755) != 0) {
    return Status::Internal(what + ": cannot create " + partial.string() + ": " + ErrnoText(errno));
  }
  Status out = Extractor(archive_path, partial).Run();
  if (out.ok() && rename(partial.c_str(), final_dest.c_str()) != 0) {
    out = Status::Internal("cannot rename " + partial.string() + " to " + final_dest.string() +
                           ": " + ErrnoText(errno));
  }
  if (!out.ok()) {
    RemoveTree(partial);
    return out.Prefixed(what);
  }
  return Status::Ok();
}

Result<Packed> HashFile(const fs::path& file) {
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string why = "cannot read " + file.string() + ": " + ErrnoText(e);
    return e == ENOENT ? Status::NotFound(why) : Status::Internal(why);
  }
  Sha256 sha;
  Packed packed;
  std::vector<char> buffer(kBlock);
  for (;;) {
    ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = "cannot read " + file.string() + ": " + ErrnoText(errno);
      close(fd);
      return Status::Internal(why);
    }
    if (n == 0) break;
    sha.Update(buffer.data(), static_cast<size_t>(n));
    packed.size += n;
  }
  close(fd);
  packed.sha256 = sha.HexDigest();
  return packed;
}

}  // namespace anthill::artifact
