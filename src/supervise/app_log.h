// The program's log, logs/app/<project>.log, rotated by size. The program
// holds the file open itself (O_APPEND; it must not depend on Anthill), so it
// cannot be asked to reopen it: rotation copies the file to <log>.1 (older
// ones shift to .2, .3) and truncates it in place, and the program's next
// write lands at the new end. Lines written between the copy and the
// truncation are lost; with a check every few seconds that is a small window.
// Thread: any (plain file work).
#pragma once

#include <cstdint>
#include <filesystem>

#include "base/status.h"

namespace anthill::supervise {

// Rotates `log` when it is larger than max_size, keeping `keep` old copies.
// Returns true when it rotated.
Result<bool> RotateIfLarger(const std::filesystem::path& log, int64_t max_size, int keep = 3);

}  // namespace anthill::supervise
