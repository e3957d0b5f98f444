// Copying build outputs into a release so that nothing outside the release
// can change it afterwards, and sealing it read-only.
//
// Why: a build tool's outputs are often symlinks out of the workspace (Bazel's
// `bazel-bin`, a cache dir). Copied as symlinks, every older release pointed
// at whatever the newest build left there: a rollback then ran the new code
// under the old label. Here a symlink stays a symlink only when it is
// relative and lands inside what the release holds; any other link is
// replaced by a copy of what it points to.
// Thread: any; plain filesystem work.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace anthill::release {

class Snapshot {
 public:
  // `workspace` is the tree releases are copied from; `kept` are the paths
  // relative to it that the release holds: "." for the whole workspace, or
  // each artifact.
  // `max_bytes` bounds what following symlinks may copy in all.
  Snapshot(std::filesystem::path workspace, std::vector<std::filesystem::path> kept,
           uint64_t max_bytes);

  // Copies `rel` (a path relative to the workspace: file, dir or symlink) to
  // `to`, recursively. Errors name the path relative to the workspace.
  Status Copy(const std::filesystem::path& rel, const std::filesystem::path& to);

  // What was done that a person reading the build log should know: links
  // replaced by copies, dangling links left out, special files skipped.
  const std::vector<std::string>& notes() const { return notes_; }
  uint64_t bytes() const { return bytes_; }

 private:
  Status CopyAny(const std::filesystem::path& from, const std::filesystem::path& to,
                 const std::string& shown, std::vector<std::filesystem::path>& open_dirs);
  Status CopyFollowed(const std::filesystem::path& link, const std::filesystem::path& target,
                      const std::filesystem::path& to, const std::string& shown,
                      std::vector<std::filesystem::path>& open_dirs);
  bool InsideRelease(const std::filesystem::path& canonical) const;

  std::filesystem::path workspace_;          // canonical
  std::vector<std::filesystem::path> kept_;  // canonical
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::vector<std::string> notes_;
};

// Removes every write permission bit in the tree at `root` (files, dirs,
// `root` itself), so that the program, or anyone but root, cannot change a
// release once made. Symlinks are left alone (their mode means nothing).
Status SealReadOnly(const std::filesystem::path& root);

// Gives the owner write permission on every dir in the tree again, so that it
// can be deleted (pruning) by a user other than root.
void UnsealForRemoval(const std::filesystem::path& root);

}  // namespace anthill::release
