// Releases: immutable dirs projects/<name>/releases/<stamp>-<sha12>/ and the
// `current` symlink that names the one meant to run.
// Thread: any; plain filesystem work, called from the io_context thread.
#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::release {

class Releases {
 public:
  // project_dir is data_dir/projects/<name>; releases/ is made on demand.
  explicit Releases(std::filesystem::path project_dir);

  const std::filesystem::path& project_dir() const { return project_dir_; }
  std::filesystem::path releases_dir() const { return project_dir_ / "releases"; }
  std::filesystem::path current_link() const { return project_dir_ / "current"; }

  // "<FormatCompactStamp(now)>-<first 12 of commit>"
  static std::string ReleaseName(TimePoint now, const std::string& commit);

  // Copies `artifacts` (paths relative to workspace; files or dirs, copied with
  // their relative path kept) into a new release dir; empty artifacts = the
  // whole workspace minus .git. A relative symlink to something the release
  // holds stays a symlink; any other link is replaced by a copy of what it
  // points to (see Snapshot), at most `max_followed_bytes` in all. The
  // release is made read-only. Builds into "<name>.tmp" and renames, so a
  // release dir that exists is complete. Errors name the missing artifact
  // (kNotFound); an artifact outside the workspace is kInvalidArgument, a
  // release of that name already there kConflict.
  // Returns the release name; `notes` (if given) says what was followed or
  // left out, for the build log.
  Result<std::string> Create(const std::filesystem::path& workspace,
                             const std::vector<std::string>& artifacts, TimePoint now,
                             const std::string& commit, std::vector<std::string>* notes = nullptr);

  // Bounds what following symlinks out of the workspace may copy.
  void set_max_followed_bytes(uint64_t bytes) { max_followed_bytes_ = bytes; }

  std::filesystem::path PathOf(const std::string& release_name) const;
  bool Exists(const std::string& release_name) const;

  // Points `current` at release_name atomically (symlink to a temp name, then
  // rename over `current`): a reader sees the old or the new target, never none.
  // kNotFound when there is no such release.
  Status SwitchCurrent(const std::string& release_name);
  // The release `current` points to, if any.
  std::optional<std::string> Current() const;

  // The newest release built from `commit` (40 hex), so a commit deployed
  // again (by hand, or a tag moved back) reuses it instead of building.
  std::optional<std::string> FindByCommit(const std::string& commit) const;

  // Release names, oldest first (names sort by time).
  std::vector<std::string> List() const;

  // Deletes the oldest releases beyond the newest `keep`, never deleting
  // current or any name in `protect` (e.g. the last good release). Also removes
  // leftover "*.tmp" dirs. Returns the names deleted.
  Result<std::vector<std::string>> Prune(int keep, const std::set<std::string>& protect);

 private:
  std::filesystem::path project_dir_;
  uint64_t max_followed_bytes_ = 2ULL << 30;
};

}  // namespace anthill::release
