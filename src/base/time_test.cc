#include "base/time.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace anthill {
namespace {

TEST(Time, FormatsRfc3339WithMillisecondsInUtc) {
  TimePoint t = FromUnixMillis(1795532458123);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-24T15:00:58.123Z");
  EXPECT_EQ(FormatCompactStamp(t), "20261124T150058.123Z");
}

TEST(Time, ParsesWhatItFormats) {
  TimePoint t = FromUnixMillis(1795532458007);
  auto parsed = ParseRfc3339(FormatRfc3339(t));
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(*parsed, t);
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
}

TEST(Duration, ParsesEveryUnitAndCombinations) {
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {{"0", 0},       {"250ms", 250},  {"10s", 10000},
               {"5m", 300000}, {"1h", 3600000}, {"1m30s", 90000}};
  for (const auto& c : cases) {
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.error();
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(Duration, RefusesNumbersWithoutUnitsAndUnknownUnits) {
  for (const char* bad : {"10", "", "10 s", "5d", "s", "-1s"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
  EXPECT_EQ(ParseDuration("10").error(),
            "bad duration '10': a number needs a unit (ms, s, m or h), e.g. \"10s\"");
}

// Found by fuzzing the config parser: the sum overflowed int64 (UBSan).
TEST(Duration, RefusesWhatIsLongerThanAYearInsteadOfOverflowing) {
  for (const char* bad :
       {"9223372036854775807h", "4000000000000000ms4000000000000000ms", "8785h"}) {
    EXPECT_EQ(ParseDuration(bad).error(),
              std::string("bad duration '") + bad + "': longer than a year");
  }
  EXPECT_EQ(ParseDuration("8784h")->count(), 8784LL * 3600 * 1000);
}

TEST(Jittered, StaysWithinItsFractionAndSpreadsOverIt) {
  Duration least = Duration::max(), most = Duration::min();
  for (int i = 0; i < 2000; ++i) {
    const Duration d = Jittered(Duration(10000), 0.2);
    EXPECT_GE(d, Duration(8000));
    EXPECT_LE(d, Duration(12000));
    least = std::min(least, d);
    most = std::max(most, d);
  }
  // 2,000 draws over 4,000 ms: both ends are reached within 400 ms.
  EXPECT_LT(least, Duration(8400));
  EXPECT_GT(most, Duration(11600));
  EXPECT_EQ(Jittered(Duration(0), 0.2), Duration(1));
}

}  // namespace
}  // namespace anthill
