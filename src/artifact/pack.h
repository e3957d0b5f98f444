// A release dir as one archive and back: a tar (pax, names stored as raw
// bytes) compressed with zstd, the form in which a build travels from the
// machine that built it to the machines that run it.
//
// What an archive keeps: regular files (with their bytes), directories,
// symlinks (as links, their target as written), permission bits and mtimes
// (whole seconds). What it drops: owners (every entry is uid 0, gid 0, no
// names), hard links (each name becomes its own file), xattrs and ACLs.
// Paths are relative to the packed dir ("bin/app"), sorted, so the same tree
// packs to the same bytes.
//
// Thread: any; plain blocking file work (run it through RunBlocking from a
// coroutine).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "base/status.h"

namespace anthill::artifact {

// What an archive file is, for the record and for checking transfers.
struct Packed {
  std::string sha256;  // of the archive file, lowercase hex
  int64_t size = 0;    // of the archive file, bytes
};

// Packs everything under `dir` into `out_file` (written to a temporary name
// beside it, then renamed: `out_file` is either the whole archive or as it
// was). `dir` itself may be a symlink to a directory; nothing under it is
// followed. Fails, naming the path, on a special file (device, fifo,
// socket), on a file that cannot be read, and when `out_file` would land
// inside `dir` (kInvalidArgument).
Result<Packed> Pack(const std::filesystem::path& dir, const std::filesystem::path& out_file);

// Unpacks `archive` (tar; zstd, gzip or uncompressed) into `dest`, which
// must not exist (kConflict when it does). Entries go into "<dest>.partial"
// (removed first when a crash left one) which is renamed to `dest` when all
// of them are out: on any error nothing is left at either name.
//
// Refused, with the entry's name in the message (kInvalidArgument): an
// absolute path, a ".." component, a path that would pass through a symlink
// the archive made, a hard link, a device, fifo or socket. Setuid and setgid
// bits are dropped (an archive must not plant a privileged program);
// permission bits are otherwise kept exactly (no umask). A truncated or
// corrupt archive fails with libarchive's reason.
Status Unpack(const std::filesystem::path& archive, const std::filesystem::path& dest);

// The SHA-256 and size of a file. kNotFound when it is not there.
Result<Packed> HashFile(const std::filesystem::path& file);

}  // namespace anthill::artifact
