// Shared paths: what a project keeps across releases (a SQLite database in
// `instance/`, `uploads/`, a secrets file), kept under projects/<name>/shared/
// and linked into each release before its program starts there.
//
// Why links into the release: a release is a fresh, read-only copy of the
// build, so whatever the program writes inside it is gone at the next
// deploy (and cannot be written at all). Capistrano's linked_dirs, Kamal's
// volumes and Dokku's storage mounts do the same job.
//
// Thread: any; plain filesystem work, called from the io_context thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace anthill::release {

// Links each of `paths` (relative, checked by the config: inside the
// release, none inside another) in `release_dir` to the same path under
// `shared_dir`:
//   - a path already linked there is left alone (a restart, a rollback);
//   - a shared path that does not exist yet is seeded with the release's
//     copy when the build left one (copied, made writable), else made an
//     empty directory;
//   - what the release holds at the path is replaced by a symlink to the
//     shared path (absolute), its missing parent directories made.
// The release stays read-only: the directories a link is made in are made
// writable for the change and read-only again. Errors name the path.
Status LinkShared(const std::filesystem::path& release_dir, const std::filesystem::path& shared_dir,
                  const std::vector<std::string>& paths);

}  // namespace anthill::release
