#include "base/strings.h"

#include <gtest/gtest.h>

namespace anthill {
namespace {

TEST(PercentDecode, DecodesEscapesAndPlusOnlyWhereAsked) {
  EXPECT_EQ(PercentDecode("%2Fa+b", true), "/a b");
  EXPECT_EQ(PercentDecode("%2Fa+b", false), "/a+b");
  bool malformed = false;
  EXPECT_EQ(PercentDecode("%7b%22ok%22%7D", true, &malformed), "{\"ok\"}");
  EXPECT_FALSE(malformed);
  // A broken escape stays as it was, and is reported when asked.
  EXPECT_EQ(PercentDecode("100%-sure%4", true, &malformed), "100%-sure%4");
  EXPECT_TRUE(malformed);
}

TEST(IsFullSha, FortyLowercaseHexOnly) {
  EXPECT_TRUE(IsFullSha(std::string(40, 'a')));
  EXPECT_FALSE(IsFullSha(std::string(40, 'A')));
  EXPECT_FALSE(IsFullSha(std::string(39, 'a')));
}

TEST(AsciiLower, LowersAsciiLettersAndLeavesEveryOtherByte) {
  EXPECT_EQ(AsciiLower("X-Hub-Signature-256"), "x-hub-signature-256");
  EXPECT_EQ(AsciiLower("PostgreSQL\xC3\x89\xFF"), "postgresql\xC3\x89\xFF");
}

}  // namespace
}  // namespace anthill
