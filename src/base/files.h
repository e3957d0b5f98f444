// Reading small files whole, or the end of a growing one, and appending to a
// log. Every whole-file read and every append in Anthill goes through here.
// Thread: any.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill {

// The whole file (binary, as it is). Fails with "cannot read <path>: <reason>",
// of kind kNotFound when there is no such file, else kInternal.
Result<std::string> ReadFile(const std::filesystem::path& path);

// The whole file; empty when it cannot be read (for callers to whom a missing
// file and an empty one mean the same).
std::string ReadWholeFile(const std::filesystem::path& path);

// The bytes of `path` from `offset` on, at most the last `max_bytes` of them
// (a log's newest lines); empty when it cannot be read.
std::string ReadFileTail(const std::filesystem::path& path, uintmax_t offset, size_t max_bytes);

// Appends `text` to `path` (created when missing): a line of a build log.
// Fails with "cannot append to <path>: <reason>".
Status AppendToFile(const std::filesystem::path& path, std::string_view text);

// True for a relative path that names something below the directory it is
// taken in: not empty, not absolute, no "." or ".." part ("instance",
// "config/secrets.yml"; not "../x", "/srv", "a/./b").
bool IsPathBelow(std::string_view relative_path);

}  // namespace anthill
