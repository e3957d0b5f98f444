#include "release/shared_paths.h"

#include "base/files.h"
#include "release/snapshot.h"

namespace anthill::release {

namespace fs = std::filesystem;

namespace {

constexpr fs::perms kWrite =
    fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;

// Everything under `root` (and root) writable by its owner: a seeded copy of
// a read-only release is the program's to change.
void MakeWritable(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_symlink(root, ec))
    fs::permissions(root, fs::perms::owner_write, fs::perm_options::add, ec);
  if (!fs::is_directory(fs::symlink_status(root, ec))) return;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink()) continue;
    std::error_code ignored;
    fs::permissions(it->path(), fs::perms::owner_write, fs::perm_options::add, ignored);
  }
}

// The release's directories from `release_dir` down to `dir`, made writable
// by their owner while it lives and given their modes back after; the ones it
// made (missing parents) are sealed read-only like the rest of the release.
class OpenDirs {
 public:
  OpenDirs(const fs::path& release_dir, const fs::path& dir) {
    fs::path at = release_dir;
    Open(at);
    for (const auto& part : dir.lexically_relative(release_dir)) {
      if (part == ".") continue;
      at /= part;
      std::error_code ec;
      if (!fs::exists(fs::symlink_status(at, ec))) {
        fs::create_directory(at, ec);
        if (ec) {
          error_ = "cannot make " + at.string() + ": " + ec.message();
          return;
        }
        made_.push_back(at);
        continue;
      }
      if (fs::is_symlink(at, ec) || !fs::is_directory(at, ec)) {
        error_ = at.string() + " is not a directory";
        return;
      }
      Open(at);
    }
  }
  ~OpenDirs() {
    std::error_code ec;
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      fs::permissions(*it, kWrite, fs::perm_options::remove, ec);
    }
    for (auto it = opened_.rbegin(); it != opened_.rend(); ++it) {
      fs::permissions(it->first, it->second, fs::perm_options::replace, ec);
    }
  }
  OpenDirs(const OpenDirs&) = delete;
  OpenDirs& operator=(const OpenDirs&) = delete;
  const std::string& error() const { return error_; }

 private:
  void Open(const fs::path& dir) {
    std::error_code ec;
    const fs::perms mode = fs::status(dir, ec).permissions();
    if (ec) return;
    opened_.emplace_back(dir, mode);
    fs::permissions(dir, fs::perms::owner_write, fs::perm_options::add, ec);
  }

  std::vector<std::pair<fs::path, fs::perms>> opened_;
  std::vector<fs::path> made_;
  std::string error_;
};

Status LinkOne(const fs::path& release_dir, const fs::path& shared_dir, const std::string& path) {
  const fs::path in_release = release_dir / path;
  const fs::path shared = fs::absolute(shared_dir / path);
  std::error_code ec;
  if (fs::is_symlink(in_release, ec) && fs::read_symlink(in_release, ec) == shared) {
    return Status::Ok();
  }
  const bool release_has = fs::exists(fs::symlink_status(in_release, ec));
  if (!fs::exists(fs::symlink_status(shared, ec))) {
    fs::create_directories(shared.parent_path(), ec);
    if (ec)
      return Status::Error("cannot make " + shared.parent_path().string() + ": " + ec.message());
    if (release_has && !fs::is_symlink(in_release, ec)) {
      // Copied beside it, then renamed: a half copy is never taken for the seed.
      const fs::path partial = shared.string() + ".seeding";
      fs::remove_all(partial, ec);
      fs::copy(in_release, partial, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
               ec);
      if (!ec) {
        MakeWritable(partial);
        fs::rename(partial, shared, ec);
      }
      if (ec) {
        return Status::Error("cannot seed " + shared.string() + " from " + in_release.string() +
                             ": " + ec.message());
      }
    } else {
      fs::create_directory(shared, ec);
      if (ec) return Status::Error("cannot make " + shared.string() + ": " + ec.message());
    }
  }
  OpenDirs open(release_dir, in_release.parent_path());
  if (!open.error().empty()) return Status::Error("cannot link " + path + ": " + open.error());
  if (release_has) {
    UnsealForRemoval(in_release);
    fs::remove_all(in_release, ec);
    if (ec) return Status::Error("cannot replace " + in_release.string() + ": " + ec.message());
  }
  fs::create_symlink(shared, in_release, ec);
  if (ec) {
    return Status::Error("cannot link " + in_release.string() + " to " + shared.string() + ": " +
                         ec.message());
  }
  return Status::Ok();
}

}  // namespace

Status LinkShared(const fs::path& release_dir, const fs::path& shared_dir,
                  const std::vector<std::string>& paths) {
  for (const std::string& path : paths) {
    // The config checks these; an agent gets them from an orchestrator, and
    // a path out of the release is refused here too.
    if (!IsPathBelow(path)) {
      return Status::InvalidArgument("shared path '" + path + "' is not inside the release");
    }
    Status s = LinkOne(release_dir, shared_dir, path);
    if (!s.ok()) return s.Prefixed("shared path '" + path + "'");
  }
  return Status::Ok();
}

}  // namespace anthill::release
