#include "supervise/app_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "testing/testing.h"

namespace anthill::supervise {
namespace {

TEST(AppLog, RotatesPastTheLimitKeepsThreeAndTheWriterCarriesOn) {
  testing::TempDir dir;
  const auto log = dir / "hello.log";
  // The program's side: one O_APPEND descriptor for its whole life.
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  auto write_line = [&](const std::string& s) {
    ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  };
  write_line("small\n");
  EXPECT_FALSE(*RotateIfLarger(log, 100));
  for (int round = 1; round <= 4; ++round) {
    write_line(std::string(200, 'a' + round) + "\n");
    auto rotated = RotateIfLarger(log, 100);
    ASSERT_TRUE(rotated.ok()) << rotated.error();
    EXPECT_TRUE(*rotated);
    EXPECT_EQ(std::filesystem::file_size(log), 0u);
  }
  write_line("after\n");
  EXPECT_EQ(testing::ReadFile(log), "after\n") << "the writer's next line starts the file again";
  EXPECT_EQ(testing::ReadFile(dir / "hello.log.1"), std::string(200, 'e') + "\n");
  EXPECT_EQ(testing::ReadFile(dir / "hello.log.3"), std::string(200, 'c') + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "hello.log.4")) << "three kept";
  close(fd);
}

}  // namespace
}  // namespace anthill::supervise
