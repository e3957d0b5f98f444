#include "http/status_codes.h"

#include <gtest/gtest.h>

namespace anthill::http {
namespace {

TEST(StatusCodes, EachKindHasOneHttpStatusAndComesBackFromIt) {
  const struct {
    StatusCode code;
    int http;
  } table[] = {
      {StatusCode::kOk, 200},
      {StatusCode::kInvalidArgument, 400},
      {StatusCode::kUnauthenticated, 401},
      {StatusCode::kNotFound, 404},
      {StatusCode::kConflict, 409},
      {StatusCode::kCancelled, 499},
      {StatusCode::kInternal, 500},
      {StatusCode::kUnavailable, 503},
      {StatusCode::kTimedOut, 504},
  };
  for (const auto& row : table) {
    EXPECT_EQ(HttpStatusFor(row.code), row.http) << ToString(row.code);
    EXPECT_EQ(StatusCodeForHttp(row.http), row.code) << row.http;
  }
  // Every kind is in the table.
  EXPECT_EQ(std::size(table), static_cast<size_t>(StatusCode::kInternal) + 1);
}

TEST(StatusCodes, OtherHttpStatusesFallIntoTheNearestKind) {
  const struct {
    int http;
    StatusCode code;
  } table[] = {
      {201, StatusCode::kOk},
      {202, StatusCode::kOk},
      {304, StatusCode::kOk},
      {403, StatusCode::kUnauthenticated},  // a page of another site, refused
      {405, StatusCode::kInvalidArgument},
      {408, StatusCode::kTimedOut},
      {413, StatusCode::kInvalidArgument},
      {415, StatusCode::kInvalidArgument},
      {421, StatusCode::kInvalidArgument},
      {431, StatusCode::kInvalidArgument},
      {502, StatusCode::kInternal},
      {0, StatusCode::kInternal},
  };
  for (const auto& row : table) EXPECT_EQ(StatusCodeForHttp(row.http), row.code) << row.http;
}

}  // namespace
}  // namespace anthill::http
