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
}  // namespace anthill::http
