// Splitting and percent-decoding request targets.

#include "http/url.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace anthill::http {
namespace {

TEST(Url, DecodesPathsAndQueries) {
  std::string path;
  std::map<std::string, std::string> q;
  SplitTarget("/a%20b/c?x=1&y=a+b%21&flag", &path, &q);
  EXPECT_EQ(path, "/a b/c");
  EXPECT_EQ(q["x"], "1");
  EXPECT_EQ(q["y"], "a b!");
  EXPECT_EQ(q.count("flag"), 1u);
}

}  // namespace
TEST(ParseBaseUrl, TakesHttpHostPortOnly) {
  struct Case {
    std::string url, host, port, host_header, error;
  } cases[] = {
      {"http://127.0.0.1:7070", "127.0.0.1", "7070", "127.0.0.1:7070", ""},
      {"HTTP://orch.example/", "orch.example", "80", "orch.example", ""},
      {"http://[::1]:7070", "::1", "7070", "[::1]:7070", ""},
      {"https://orch.example", "", "", "", "want http://host:port"},
      {"http://orch.example/api", "", "", "", "no path after host:port"},
      {"http://:7070", "", "", "", "want http://host:port"},
      {"http://orch.example:0", "", "", "", "the port is not 1 to 65535"},
  };
  for (const auto& c : cases) {
    auto got = ParseBaseUrl(c.url);
    if (c.error.empty()) {
      ASSERT_TRUE(got.ok()) << c.url << ": " << got.error();
      EXPECT_EQ(got->host, c.host) << c.url;
      EXPECT_EQ(got->port, c.port) << c.url;
      EXPECT_EQ(got->host_header, c.host_header) << c.url;
    } else {
      ASSERT_FALSE(got.ok()) << c.url;
      EXPECT_EQ(got.code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(got.error(), "bad orchestrator URL '" + c.url + "': " + c.error);
    }
  }
}

}  // namespace anthill::http
