// Shared paths on real release dirs: made by Releases::Create (copied,
// sealed read-only), linked, written through, linked again.
#include "release/shared_paths.h"

#include <gtest/gtest.h>

#include "release/releases.h"
#include "testing/testing.h"

namespace anthill::release {
namespace {

namespace fs = std::filesystem;

class SharedPathsTest : public ::testing::Test {
 protected:
  // A release of a workspace holding `files` (path -> text).
  fs::path MakeRelease(const std::map<std::string, std::string>& files, char commit_char) {
    const fs::path ws = dir_ / ("ws-" + std::string(1, commit_char));
    fs::create_directories(ws);
    for (const auto& [path, text] : files) testing::WriteFile(ws / path, text);
    auto made = releases_.Create(ws, {}, Now(), std::string(40, commit_char));
    EXPECT_TRUE(made.ok()) << made.error();
    return releases_.PathOf(made.ok() ? *made : "");
  }
  static bool Writable(const fs::path& p) {
    return (fs::status(p).permissions() & fs::perms::owner_write) != fs::perms::none;
  }

  testing::TempDir dir_;
  Releases releases_{dir_ / "projects" / "flaskr"};
  fs::path shared_ = dir_ / "projects" / "flaskr" / "shared";
};

// The first release's copy seeds the shared path; what the program writes
// there is what every later release, and a rollback to an earlier one, sees.
TEST_F(SharedPathsTest, TheFirstReleaseSeedsItAndEveryReleaseSeesWhatWasWritten) {
  const fs::path one =
      MakeRelease({{"app.py", "v1"}, {"instance/seed.txt", "from the build"}}, 'a');
  ASSERT_TRUE(LinkShared(one, shared_, {"instance"}).ok());
  EXPECT_TRUE(fs::is_symlink(one / "instance"));
  EXPECT_EQ(testing::ReadFile(shared_ / "instance" / "seed.txt"), "from the build");
  EXPECT_TRUE(Writable(shared_ / "instance"));
  EXPECT_TRUE(Writable(shared_ / "instance" / "seed.txt"));
  testing::WriteFile(one / "instance" / "flaskr.sqlite", "rows");  // the program writes

  // The next build leaves its own instance/: the shared one wins.
  const fs::path two = MakeRelease({{"app.py", "v2"}, {"instance/seed.txt", "newer build"}}, 'b');
  ASSERT_TRUE(LinkShared(two, shared_, {"instance"}).ok());
  EXPECT_EQ(testing::ReadFile(two / "instance" / "flaskr.sqlite"), "rows");
  EXPECT_EQ(testing::ReadFile(two / "instance" / "seed.txt"), "from the build");
  testing::WriteFile(two / "instance" / "flaskr.sqlite", "more rows");

  // A rollback starts the first release again: linked already, left alone.
  ASSERT_TRUE(LinkShared(one, shared_, {"instance"}).ok());
  EXPECT_EQ(testing::ReadFile(one / "instance" / "flaskr.sqlite"), "more rows");
}

// A path nobody made is an empty directory; a file path deep in the release
// is linked with its parents; the release stays read-only around the links.
TEST_F(SharedPathsTest, MissingPathsAreMadeAndTheReleaseStaysReadOnly) {
  testing::WriteFile(shared_ / "config" / "secrets.yml", "token: x\n");  // put there by hand
  const fs::path r = MakeRelease({{"app.py", "v1"}, {"config/app.yml", "a: 1\n"}}, 'c');
  ASSERT_TRUE(LinkShared(r, shared_, {"uploads", "config/secrets.yml", "var/cache"}).ok());
  EXPECT_TRUE(fs::is_directory(shared_ / "uploads"));
  EXPECT_TRUE(fs::is_symlink(r / "uploads"));
  EXPECT_EQ(testing::ReadFile(r / "config" / "secrets.yml"), "token: x\n");
  EXPECT_EQ(testing::ReadFile(r / "config" / "app.yml"), "a: 1\n");
  EXPECT_TRUE(fs::is_symlink(r / "var" / "cache"));
  EXPECT_FALSE(Writable(r));
  EXPECT_FALSE(Writable(r / "config"));
  EXPECT_FALSE(Writable(r / "var"));
  EXPECT_FALSE(Writable(r / "app.py"));
  // Old releases are still pruned (their links go, not what they point to).
  ASSERT_TRUE(releases_.Prune(0, {}).ok());
  EXPECT_FALSE(fs::exists(r));
  EXPECT_EQ(testing::ReadFile(shared_ / "config" / "secrets.yml"), "token: x\n");
}

// Where a link cannot go, the error names the shared path and why.
TEST_F(SharedPathsTest, APathThroughAFileIsAnErrorThatSaysSo) {
  const fs::path r = MakeRelease({{"app.py", "v1"}, {"data", "a file"}}, 'd');
  Status s = LinkShared(r, shared_, {"data/db"});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "shared path 'data/db': cannot link data/db: " + (r / "data").string() +
                             " is not a directory");
  // An agent takes its paths from an orchestrator: one out of the release is
  // refused before anything is made.
  Status out = LinkShared(r, shared_, {"../outside"});
  EXPECT_EQ(out.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.message(), "shared path '../outside' is not inside the release");
  EXPECT_FALSE(fs::exists(shared_.parent_path() / "outside"));
}

}  // namespace
}  // namespace anthill::release
