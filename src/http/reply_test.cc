#include "http/reply.h"

#include <gtest/gtest.h>

namespace anthill::http {
namespace {

TEST(Reply, JsonWithAStatusAndANewline) {
  Response r = JsonResponse(202, {{"status", "accepted"}, {"deployments", {7}}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"deployments\":[7],\"status\":\"accepted\"}\n");
}

TEST(Reply, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(Dump({{"tag", "v9\xe9"}}), "{\"tag\":\"v9\xef\xbf\xbd\"}");
}

TEST(Reply, AnErrorTakesTheStatusOfItsKind) {
  Response r = ErrorResponse(Status::NotFound("no deployment 9"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\":\"no deployment 9\"}\n");
  EXPECT_EQ(ErrorResponse(Status::InvalidArgument("bad limit")).status, 400);
  EXPECT_EQ(ErrorResponse(Status::Error("disk I/O error")).status, 500);
  Response direct = ErrorResponse(421, "not our name");
  EXPECT_EQ(direct.status, 421);
  EXPECT_EQ(direct.body, "{\"error\":\"not our name\"}\n");
}

}  // namespace
}  // namespace anthill::http
