// Wall-clock time as Anthill records it: system_clock, formatted as RFC 3339
// UTC with milliseconds in the API and stored as integer milliseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

TimePoint Now();
int64_t ToUnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

// "2026-11-24T15:00:58.123Z"
std::string FormatRfc3339(TimePoint t);
// Parses the format above (also without fraction). Errors say what was wrong.
Result<TimePoint> ParseRfc3339(std::string_view text);
// "20261124T150058.123Z": sortable, file-name safe; used for release dirs.
std::string FormatCompactStamp(TimePoint t);

// Parses "250ms", "10s", "5m", "1h", "1m30s" and "0". A bare number other than 0
// is refused: a duration always names its unit.
Result<Duration> ParseDuration(std::string_view text);
// "4.1 s", "250 ms", "2 min 5 s": for humans in messages.
std::string FormatDuration(Duration d);

// `around` give or take `fraction` of it, drawn at random (at least 1 ms):
// periodic work of many processes started together (a fleet's agents after
// one rollout) spreads out instead of arriving at once.
Duration Jittered(Duration around, double fraction);

}  // namespace anthill
