// Reading small text files whole, or the end of a growing one.
// Thread: any.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace anthill {

// The whole file; empty when it cannot be read.
std::string ReadWholeFile(const std::filesystem::path& path);

// The bytes of `path` from `offset` on, at most the last `max_bytes` of them
// (a log's newest lines); empty when it cannot be read.
std::string ReadFileTail(const std::filesystem::path& path, uintmax_t offset, size_t max_bytes);

}  // namespace anthill
