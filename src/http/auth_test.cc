// The bearer token check of mutating API calls.

#include "http/auth.h"

#include <gtest/gtest.h>

namespace anthill::http {
namespace {

TEST(Auth, BearerTokenIsComparedExactly) {
  Request r;
  EXPECT_TRUE(Authorized(r, ""));
  EXPECT_FALSE(Authorized(r, "s3cret"));
  r.headers["authorization"] = "Bearer s3cret";
  EXPECT_TRUE(Authorized(r, "s3cret"));
  r.headers["authorization"] = "Bearer s3cre";
  EXPECT_FALSE(Authorized(r, "s3cret"));
  r.headers["authorization"] = "Basic s3cret";
  EXPECT_FALSE(Authorized(r, "s3cret"));
}

}  // namespace
}  // namespace anthill::http
