#include "release/snapshot.h"

#include <algorithm>

namespace anthill::release {

namespace fs = std::filesystem;

namespace {

// Notes past this many are counted, not listed: a followed tree may hold
// thousands of links and the build log is for people.
constexpr size_t kMaxNotes = 20;

bool IsUnder(const fs::path& p, const fs::path& root) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

std::string GiB(uint64_t bytes) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ULL << 30));
  return buf;
}

}  // namespace

Snapshot::Snapshot(fs::path workspace, std::vector<fs::path> kept, uint64_t max_bytes)
    : max_bytes_(max_bytes) {
  std::error_code ec;
  workspace_ = fs::weakly_canonical(workspace, ec);
  if (ec) workspace_ = workspace;
  for (const auto& k : kept) {
    fs::path c = fs::weakly_canonical(workspace_ / k, ec);
    kept_.push_back(ec ? (workspace_ / k).lexically_normal() : c);
  }
}

bool Snapshot::InsideRelease(const fs::path& canonical) const {
  if (IsUnder(canonical, workspace_ / ".git")) return false;
  for (const auto& k : kept_) {
    if (IsUnder(canonical, k)) return true;
  }
  return false;
}

Status Snapshot::Copy(const fs::path& rel, const fs::path& to) {
  // The walk works on canonical workspace paths, so "is it inside" is a
  // prefix test.
  std::vector<fs::path> open_dirs;
  return CopyAny(workspace_ / rel, to, rel.string(), open_dirs);
}

Status Snapshot::CopyAny(const fs::path& from, const fs::path& to, const std::string& shown,
                         std::vector<fs::path>& open_dirs) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(from, ec);
  if (ec) return Status::Error("cannot read " + shown + ": " + ec.message());
  const bool in_workspace = IsUnder(from, workspace_);

  if (fs::is_symlink(st)) {
    const fs::path target = fs::read_symlink(from, ec);
    if (ec) return Status::Error("cannot read the link " + shown + ": " + ec.message());
    const fs::path resolved = fs::canonical(from, ec);
    if (ec == std::errc::too_many_symbolic_link_levels) {
      return Status::Error(shown + " is a symlink loop");
    }
    if (ec) {
      // Dangling. Inside the release it stays as the build made it (it cannot
      // point anywhere that changes later); pointing out, it is left out.
      fs::path lexical = (from.parent_path() / target).lexically_normal();
      if (in_workspace && target.is_relative() && InsideRelease(lexical)) {
        fs::create_symlink(target, to, ec);
        if (ec) return Status::Error("cannot create the link " + shown + ": " + ec.message());
      } else if (notes_.size() < kMaxNotes) {
        notes_.push_back("left out " + shown + ": a symlink to " + target.string() +
                         ", which does not exist");
      }
      return Status::Ok();
    }
    if (in_workspace && target.is_relative() && InsideRelease(resolved)) {
      // A link to another part of the release: the copy holds its target too.
      fs::create_symlink(target, to, ec);
      if (ec) return Status::Error("cannot create the link " + shown + ": " + ec.message());
      return Status::Ok();
    }
    if (notes_.size() < kMaxNotes) {
      notes_.push_back("copied what " + shown + " points to (" + resolved.string() +
                       ") instead of the link: the release must not change when it does");
    }
    return CopyFollowed(from, resolved, to, shown, open_dirs);
  }

  if (fs::is_directory(st)) {
    fs::create_directory(to, ec);
    if (ec) return Status::Error("cannot create " + to.string() + ": " + ec.message());
    fs::permissions(to, st.permissions() | fs::perms::owner_all, ec);
    open_dirs.push_back(from);
    for (const auto& entry : fs::directory_iterator(from, ec)) {
      const fs::path name = entry.path().filename();
      Status s = CopyAny(entry.path(), to / name, shown + "/" + name.string(), open_dirs);
      if (!s.ok()) return s;
    }
    open_dirs.pop_back();
    if (ec) return Status::Error("cannot read " + shown + ": " + ec.message());
    fs::permissions(to, st.permissions(), ec);
    return Status::Ok();
  }

  if (fs::is_regular_file(st)) {
    // Only what links pulled in from outside counts: the workspace itself is
    // as large as the project made it.
    if (!in_workspace) {
      bytes_ += fs::file_size(from, ec);
      if (bytes_ > max_bytes_) {
        return Status::Error("following symlinks out of the workspace would copy more than " +
                             GiB(max_bytes_) + " (at " + shown +
                             "); list what the program needs in `artifacts`");
      }
    }
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::Error("cannot copy " + shown + ": " + ec.message());
    return Status::Ok();
  }

  if (notes_.size() < kMaxNotes) {
    notes_.push_back("left out " + shown + ": not a file, directory or symlink");
  }
  return Status::Ok();
}

Status Snapshot::CopyFollowed(const fs::path& link, const fs::path& target, const fs::path& to,
                              const std::string& shown, std::vector<fs::path>& open_dirs) {
  std::error_code ec;
  if (fs::is_directory(target, ec)) {
    // A link back to a dir being copied (or one that holds it) would copy
    // forever.
    for (const auto& open : open_dirs) {
      fs::path canonical_open = fs::weakly_canonical(open, ec);
      if (IsUnder(canonical_open, target)) {
        return Status::Error(shown + " links back to " + target.string() +
                             ", which holds it: a symlink loop; list what the program needs "
                             "in `artifacts`");
      }
    }
  }
  return CopyAny(target, to, shown, open_dirs);
}

Status SealReadOnly(const fs::path& root) {
  constexpr fs::perms kWrite =
      fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;
  std::error_code ec;
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_symlink()) paths.push_back(it->path());
  }
  if (ec) return Status::Error("cannot read " + root.string() + ": " + ec.message());
  // Deepest first, the root last: a dir made read-only first would not matter
  // to root, but would stop anyone else from changing what is inside it.
  paths.push_back(root);
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
    fs::permissions(*it, kWrite, fs::perm_options::remove | fs::perm_options::nofollow, ec);
    if (ec == std::errc::operation_not_supported) {
      fs::permissions(*it, kWrite, fs::perm_options::remove, ec);
    }
    if (ec) return Status::Error("cannot make " + it->string() + " read-only: " + ec.message());
  }
  return Status::Ok();
}

void UnsealForRemoval(const fs::path& root) {
  std::error_code ec;
  fs::permissions(root, fs::perms::owner_all, fs::perm_options::add, ec);
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory() && !it->is_symlink()) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
}

}  // namespace anthill::release
