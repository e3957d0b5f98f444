#include "release/releases.h"

#include <unistd.h>

#include <algorithm>

#include "release/snapshot.h"

namespace anthill::release {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kTmpSuffix = ".tmp";

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Releases::Releases(fs::path project_dir) : project_dir_(std::move(project_dir)) {}

std::string Releases::ReleaseName(TimePoint now, const std::string& commit) {
  return FormatCompactStamp(now) + "-" + commit.substr(0, 12);
}

fs::path Releases::PathOf(const std::string& name) const { return releases_dir() / name; }

bool Releases::Exists(const std::string& name) const {
  std::error_code ec;
  return !name.empty() && fs::is_directory(PathOf(name), ec);
}

Result<std::string> Releases::Create(const fs::path& workspace,
                                     const std::vector<std::string>& artifacts, TimePoint now,
                                     const std::string& commit, std::vector<std::string>* notes) {
  const std::string name = ReleaseName(now, commit);
  const fs::path final_dir = PathOf(name);
  const fs::path tmp = releases_dir() / (name + std::string(kTmpSuffix));
  std::error_code ec;
  if (fs::exists(final_dir, ec)) return Status::Conflict("release " + name + " exists already");
  UnsealForRemoval(tmp);
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::Error("cannot create " + tmp.string() + ": " + ec.message());

  auto fail = [&](Status s) -> Result<std::string> {
    std::error_code ignored;
    UnsealForRemoval(tmp);
    fs::remove_all(tmp, ignored);
    return s;
  };
  std::vector<fs::path> kept;
  if (artifacts.empty()) {
    kept.push_back(".");
  } else {
    for (const auto& a : artifacts) {
      fs::path rel = fs::path(a).lexically_normal();
      if (rel.is_absolute() || rel.empty() || *rel.begin() == "..") {
        return fail(
            Status::InvalidArgument("artifact '" + a + "' is not a path inside the workspace"));
      }
      // "static/" normalises to "static/"; copy to the same relative place.
      if (rel.filename().empty()) rel = rel.parent_path();
      if (!fs::exists(fs::symlink_status(workspace / rel, ec))) {
        return fail(Status::NotFound("artifact '" + a + "' not found in the workspace"));
      }
      kept.push_back(rel);
    }
  }
  Snapshot snapshot(workspace, kept, max_followed_bytes_);
  if (artifacts.empty()) {
    for (const auto& entry : fs::directory_iterator(workspace, ec)) {
      const fs::path name = entry.path().filename();
      if (name == ".git") continue;
      Status s = snapshot.Copy(name, tmp / name);
      if (!s.ok()) return fail(s);
    }
    if (ec) return fail(Status::Error("cannot read " + workspace.string() + ": " + ec.message()));
  } else {
    for (const auto& rel : kept) {
      fs::create_directories((tmp / rel).parent_path(), ec);
      if (ec)
        return fail(Status::Error("cannot create " + (tmp / rel).parent_path().string() + ": " +
                                  ec.message()));
      Status s = snapshot.Copy(rel, tmp / rel);
      if (!s.ok()) return fail(s);
    }
  }
  if (notes != nullptr) *notes = snapshot.notes();
  // Once made, a release does not change: neither the next build nor the
  // program itself can write into it (root aside, which mode bits do not stop).
  if (Status s = SealReadOnly(tmp); !s.ok()) return fail(s);
  // The rename makes the release appear whole or not at all.
  fs::rename(tmp, final_dir, ec);
  if (ec) return fail(Status::Error("cannot rename " + tmp.string() + ": " + ec.message()));
  return name;
}

Status Releases::SwitchCurrent(const std::string& name) {
  if (!Exists(name)) return Status::NotFound("no release " + name);
  // A new symlink under a temporary name, then rename(2) over `current`:
  // atomic, so a reader sees the old target or the new one, never none.
  fs::path tmp = project_dir_ / ("current.tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(fs::path("releases") / name, tmp, ec);
  if (ec) return Status::Error("cannot create " + tmp.string() + ": " + ec.message());
  fs::rename(tmp, current_link(), ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::Error("cannot switch " + current_link().string() + ": " + ec.message());
  }
  return Status::Ok();
}

std::optional<std::string> Releases::Current() const {
  std::error_code ec;
  fs::path target = fs::read_symlink(current_link(), ec);
  if (ec) return std::nullopt;
  std::string name = target.filename().string();
  if (target.parent_path().filename() != "releases" || !Exists(name)) return std::nullopt;
  return name;
}

std::vector<std::string> Releases::List() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(releases_dir(), ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory(ec) && !EndsWith(name, kTmpSuffix)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::vector<std::string>> Releases::Prune(int keep, const std::set<std::string>& protect) {
  std::vector<std::string> deleted;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(releases_dir(), ec)) {
    if (EndsWith(entry.path().filename().string(), kTmpSuffix)) {
      UnsealForRemoval(entry.path());
      fs::remove_all(entry.path(), ec);
    }
  }
  std::vector<std::string> names = List();
  auto current = Current();
  int surplus = static_cast<int>(names.size()) - std::max(keep, 0);
  for (const auto& name : names) {
    if (surplus <= 0) break;
    if (name == current || protect.count(name)) continue;
    UnsealForRemoval(PathOf(name));
    fs::remove_all(PathOf(name), ec);
    if (ec) return Status::Error("cannot delete " + PathOf(name).string() + ": " + ec.message());
    deleted.push_back(name);
    --surplus;
  }
  return deleted;
}

std::optional<std::string> Releases::FindByCommit(const std::string& commit) const {
  if (commit.size() < 12) return std::nullopt;
  const std::string suffix = "-" + commit.substr(0, 12);
  auto names = List();
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (it->size() > suffix.size() &&
        it->compare(it->size() - suffix.size(), suffix.size(), suffix) == 0) {
      return *it;
    }
  }
  return std::nullopt;
}

}  // namespace anthill::release
