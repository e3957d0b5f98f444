#include "base/time.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <random>

namespace anthill {

TimePoint Now() { return std::chrono::time_point_cast<Duration>(Clock::now()); }

int64_t ToUnixMillis(TimePoint t) { return t.time_since_epoch().count(); }

TimePoint FromUnixMillis(int64_t ms) { return TimePoint(Duration(ms)); }

namespace {

struct Parts {
  std::tm tm;
  int millis;
};

Parts Split(TimePoint t) {
  int64_t ms = ToUnixMillis(t);
  int64_t secs = ms / 1000;
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  std::time_t tt = static_cast<std::time_t>(secs);
  Parts p{};
  gmtime_r(&tt, &p.tm);
  p.millis = millis;
  return p;
}

// t's UTC date and time in `format`, which takes them as seven ints: year,
// month, day, hour, minute, second, millisecond.
std::string FormatParts(TimePoint t, const char* format) {
  Parts p = Split(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, format, p.tm.tm_year + 1900, p.tm.tm_mon + 1, p.tm.tm_mday,
                p.tm.tm_hour, p.tm.tm_min, p.tm.tm_sec, p.millis);
  return buf;
}

}  // namespace

std::string FormatRfc3339(TimePoint t) {
  return FormatParts(t, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ");
}

std::string FormatCompactStamp(TimePoint t) {
  return FormatParts(t, "%04d%02d%02dT%02d%02d%02d.%03dZ");
}

Result<TimePoint> ParseRfc3339(std::string_view text) {
  std::tm tm{};
  int millis = 0;
  std::string s(text);
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return Status::Error("not an RFC 3339 time: '" + s + "'");
  }
  std::string_view rest = text.substr(consumed);
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int digits = 0;
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) {
      if (digits < 3) millis = millis * 10 + (rest.front() - '0');
      ++digits;
      rest.remove_prefix(1);
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  if (rest != "Z" && rest != "+00:00") {
    return Status::Error("not an RFC 3339 UTC time: '" + s + "'");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  return FromUnixMillis(static_cast<int64_t>(secs) * 1000 + millis);
}

Result<Duration> ParseDuration(std::string_view text) {
  const std::string original(text);
  if (text == "0") return Duration(0);
  if (text.empty()) return Status::Error("empty duration (use e.g. \"10s\")");
  int64_t total_ms = 0;
  while (!text.empty()) {
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || ptr == text.data() || n < 0) {
      return Status::Error("bad duration '" + original +
                           "' (use e.g. \"500ms\", \"10s\", \"5m\", \"1h\")");
    }
    text.remove_prefix(ptr - text.data());
    size_t unit_len = 0;
    while (unit_len < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_len]))) {
      ++unit_len;
    }
    std::string_view unit = text.substr(0, unit_len);
    text.remove_prefix(unit_len);
    int64_t factor = 0;
    if (unit == "ms")
      factor = 1;
    else if (unit == "s")
      factor = 1000;
    else if (unit == "m")
      factor = 60 * 1000;
    else if (unit == "h")
      factor = 60 * 60 * 1000;
    else {
      return Status::Error("bad duration '" + original +
                           "': a number needs a unit (ms, s, m or h), e.g. \"10s\"");
    }
    // A year is more than any timeout or interval means; past it the sum
    // could overflow (found by fuzzing the config parser).
    constexpr int64_t kMaxMs = 366LL * 24 * 60 * 60 * 1000;
    if (n > kMaxMs / factor || total_ms + n * factor > kMaxMs) {
      return Status::Error("bad duration '" + original + "': longer than a year");
    }
    total_ms += n * factor;
  }
  return Duration(total_ms);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  char buf[64];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lld ms", static_cast<long long>(ms));
  } else if (ms < 60 * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lld min %lld s", static_cast<long long>(ms / 60000),
                  static_cast<long long>((ms % 60000) / 1000));
  }
  return buf;
}

Duration Jittered(Duration around, double fraction) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const double spread = static_cast<double>(around.count()) * fraction;
  std::uniform_real_distribution<double> offset(-spread, spread);
  const auto ms = static_cast<int64_t>(static_cast<double>(around.count()) + offset(random));
  return Duration(std::max<int64_t>(1, ms));
}

}  // namespace anthill
