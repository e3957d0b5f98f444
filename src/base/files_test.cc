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

}  // namespace
}  // namespace anthill
