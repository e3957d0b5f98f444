#include "base/files.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace anthill {
namespace {

TEST(Files, WholeFileAndTheTailSinceAnOffset) {
  testing::TempDir dir;
  testing::WriteFile(dir / "log", "old line\nnew one\nnew two\n");
  EXPECT_EQ(ReadWholeFile(dir / "log"), "old line\nnew one\nnew two\n");
  EXPECT_EQ(ReadFileTail(dir / "log", 9, 100), "new one\nnew two\n");
  EXPECT_EQ(ReadFileTail(dir / "log", 9, 8), "new two\n");
  EXPECT_EQ(ReadFileTail(dir / "log", 100, 8), "");  // rotated: shorter than the offset
  EXPECT_EQ(ReadWholeFile(dir / "missing"), "");
}

TEST(Files, ReadFileSaysWhyItCannot) {
  testing::TempDir dir;
  testing::WriteFile(dir / "bytes", std::string("a\0b\n", 4));
  auto bytes = ReadFile(dir / "bytes");
  ASSERT_TRUE(bytes.ok()) << bytes.error();
  EXPECT_EQ(*bytes, std::string("a\0b\n", 4));

  auto missing = ReadFile(dir / "missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.error(),
            "cannot read " + (dir / "missing").string() + ": No such file or directory");

  auto directory = ReadFile(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.code(), StatusCode::kInternal);
  EXPECT_EQ(directory.error(), "cannot read " + dir.path().string() + ": Is a directory");

  // /proc files say their size is 0 and still have content.
  auto stat = ReadFile("/proc/self/stat");
  ASSERT_TRUE(stat.ok()) << stat.error();
  EXPECT_FALSE(stat->empty());
}

TEST(Files, APathBelowStaysBelow) {
  for (const char* below : {"instance", "config/secrets.yml", "a/b/c"}) {
    EXPECT_TRUE(IsPathBelow(below)) << below;
  }
  for (const char* outside : {"", "/srv/data", "..", "../x", "a/../../b", ".", "a/./b"}) {
    EXPECT_FALSE(IsPathBelow(outside)) << outside;
  }
}

TEST(Files, AppendAddsToTheEnd) {
  testing::TempDir dir;
  EXPECT_TRUE(AppendToFile(dir / "log", "==> build: make\n").ok());
  EXPECT_TRUE(AppendToFile(dir / "log", "==> build: exit 0\n").ok());
  EXPECT_EQ(ReadWholeFile(dir / "log"), "==> build: make\n==> build: exit 0\n");
  Status s = AppendToFile(dir / "no-such-dir" / "log", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "cannot append to " + (dir / "no-such-dir" / "log").string() +
                             ": No such file or directory");
}

}  // namespace
}  // namespace anthill
