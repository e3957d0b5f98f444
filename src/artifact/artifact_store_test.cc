#include "artifact/artifact_store.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace anthill::artifact {
namespace {

TEST(ValidKey, AcceptsProjectSlashArchiveName) {
  for (const char* key : {"hello/20261124T150058.123Z-aaaaaaaaaaaa.tar.zst", "my_app/v1.2-3.tar.gz",
                          "a/b.tar.zst", "A.b-c_d/.tar.zst"}) {
    EXPECT_TRUE(ValidKey(key)) << key;
  }
}

TEST(ValidKey, RefusesAnythingThatCouldEscapeAPathOrURL) {
  const std::string long_part(256, 'a');
  const std::vector<std::string> keys = {"",
                                         "hello",
                                         "hello/",
                                         "/hello.tar.zst",
                                         "hello/app.zip",
                                         "hello/app.tar",
                                         "../app.tar.zst",
                                         "./app.tar.zst",
                                         "hello/../app.tar.zst",
                                         "a/b/c.tar.zst",
                                         "hello/app .tar.zst",
                                         "hello/app%2f.tar.zst",
                                         "hel lo/app.tar.zst",
                                         "hello\\x/a.tar.zst",
                                         "hello/app.tar.zst\n",
                                         std::string("hello/a\0.tar.zst", 16),
                                         long_part + "/a.tar.zst",
                                         "a/" + long_part + ".tar.zst",
                                         "héllo/a.tar.zst"};
  for (const std::string& key : keys) {
    EXPECT_FALSE(ValidKey(key)) << key;
  }
}

TEST(KeyFor, KeepsSafeVersionsAndReplacesTheRest) {
  EXPECT_EQ(KeyFor("hello", "main-15eb13af"), "hello/main-15eb13af.tar.zst");
  EXPECT_EQ(KeyFor("hello", "feature/x y\xff"), "hello/feature_x_y_.tar.zst");
  EXPECT_EQ(KeyFor("hello", ".."), "hello/_.tar.zst");
  EXPECT_TRUE(ValidKey(KeyFor("hello", "feature/x y\xff")));
}

}  // namespace
}  // namespace anthill::artifact
