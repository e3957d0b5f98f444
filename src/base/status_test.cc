#include "base/status.h"

#include <gtest/gtest.h>

namespace anthill {
namespace {

TEST(Status, OkHasNoKindAndNoText) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(s.Prefixed("project hello").ok());
  EXPECT_TRUE(s.Suffixed("; see the log").ok());
}

// Hundreds of call sites write Status::Error(text): their errors are of the
// default kind.
TEST(Status, ErrorWithoutAKindIsInternal) {
  Status s = Status::Error("disk full");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_EQ(Status::Error(StatusCode::kOk, "said ok").code(), StatusCode::kInternal)
      << "an error is never ok";
}

TEST(Status, EachNamedConstructorGivesItsKind) {
  const struct {
    Status status;
    StatusCode code;
    const char* word;
  } cases[] = {
      {Status::InvalidArgument("m"), StatusCode::kInvalidArgument, "invalid argument"},
      {Status::NotFound("m"), StatusCode::kNotFound, "not found"},
      {Status::Conflict("m"), StatusCode::kConflict, "conflict"},
      {Status::Unavailable("m"), StatusCode::kUnavailable, "unavailable"},
      {Status::Cancelled("m"), StatusCode::kCancelled, "cancelled"},
      {Status::TimedOut("m"), StatusCode::kTimedOut, "timed out"},
      {Status::Unauthenticated("m"), StatusCode::kUnauthenticated, "unauthenticated"},
      {Status::Internal("m"), StatusCode::kInternal, "internal"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.word;
    EXPECT_EQ(c.status.code(), c.code) << c.word;
    EXPECT_EQ(c.status.message(), "m") << c.word;
    EXPECT_EQ(ToString(c.code), c.word);
    EXPECT_EQ(Status::Error(c.code, "m").code(), c.code) << c.word;
  }
  EXPECT_EQ(ToString(StatusCode::kOk), "ok");
}

TEST(Status, PrefixAndSuffixKeepTheKind) {
  Status s = Status::TimedOut("build timed out after 30 s").Prefixed("project hello");
  EXPECT_EQ(s.code(), StatusCode::kTimedOut);
  EXPECT_EQ(s.message(), "project hello: build timed out after 30 s");
  s = s.Suffixed("; see logs/build/42.log");
  EXPECT_EQ(s.code(), StatusCode::kTimedOut);
  EXPECT_EQ(s.message(), "project hello: build timed out after 30 s; see logs/build/42.log");
}

TEST(Result, CarriesTheKindOfItsError) {
  Result<int> fine = 7;
  EXPECT_EQ(fine.code(), StatusCode::kOk);
  EXPECT_TRUE(fine.status().ok());
  Result<int> missing = Status::NotFound("no deployment 9");
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.error(), "no deployment 9");
}

}  // namespace
}  // namespace anthill
