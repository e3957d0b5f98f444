#include "release/releases.h"

#include <gtest/gtest.h>

#include "testing/testing.h"

namespace anthill::release {
namespace {

namespace fs = std::filesystem;

class ReleasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFile(dir_ / "ws/hello", "#!/bin/sh\n");
    fs::permissions(dir_ / "ws/hello", fs::perms::owner_exec, fs::perm_options::add);
    testing::WriteFile(dir_ / "ws/static/css/site.css", "body{}");
    testing::WriteFile(dir_ / "ws/.git/HEAD", "ref");
    fs::create_symlink("hello", dir_ / "ws/link");
  }
  std::string Make(int64_t ms, char c = 'a') {
    auto r = releases_.Create(dir_ / "ws", {}, FromUnixMillis(ms), std::string(40, c));
    EXPECT_TRUE(r.ok()) << r.error();
    return r.ok() ? *r : "";
  }
  testing::TempDir dir_;
  Releases releases_{dir_ / "project"};
};

TEST_F(ReleasesTest, WholeTreeCopyLeavesGitOutAndKeepsLinksAndModes) {
  std::string name = Make(1795532458123);
  EXPECT_EQ(name, "20261124T150058.123Z-aaaaaaaaaaaa");
  fs::path r = releases_.PathOf(name);
  EXPECT_FALSE(fs::exists(r / ".git"));
  EXPECT_TRUE(fs::is_symlink(r / "link"));
  EXPECT_EQ(testing::ReadFile(r / "static/css/site.css"), "body{}");
  EXPECT_NE(fs::status(r / "hello").permissions() & fs::perms::owner_exec, fs::perms::none);
}

TEST_F(ReleasesTest, FindByCommitGivesTheNewestReleaseOfThatCommit) {
  Make(1000, 'a');
  std::string newer = Make(2000, 'a');
  Make(3000, 'b');
  EXPECT_EQ(releases_.FindByCommit(std::string(40, 'a')), newer);
  EXPECT_EQ(releases_.FindByCommit(std::string(40, 'c')), std::nullopt);
  EXPECT_EQ(releases_.FindByCommit("abc"), std::nullopt);
}

TEST_F(ReleasesTest, ArtifactsKeepTheirRelativePath) {
  auto r = releases_.Create(dir_ / "ws", {"hello", "static/css/"}, Now(), std::string(40, 'b'));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(fs::exists(releases_.PathOf(*r) / "hello"));
  EXPECT_TRUE(fs::exists(releases_.PathOf(*r) / "static/css/site.css"));
  EXPECT_FALSE(fs::exists(releases_.PathOf(*r) / "link"));
}

TEST_F(ReleasesTest, AMissingArtifactIsAnErrorAndLeavesNothing) {
  auto r = releases_.Create(dir_ / "ws", {"hello", "dist/app"}, Now(), std::string(40, 'c'));
  EXPECT_EQ(r.error(), "artifact 'dist/app' not found in the workspace");
  EXPECT_EQ(r.code(), StatusCode::kNotFound);
  EXPECT_TRUE(releases_.List().empty());
  EXPECT_TRUE(fs::is_empty(releases_.releases_dir()));
}

TEST_F(ReleasesTest, SwitchCurrentIsOneRelativeSymlink) {
  std::string a = Make(1000), b = Make(2000);
  ASSERT_TRUE(releases_.SwitchCurrent(a).ok());
  EXPECT_EQ(releases_.Current(), a);
  ASSERT_TRUE(releases_.SwitchCurrent(b).ok());
  EXPECT_EQ(releases_.Current(), b);
  EXPECT_EQ(fs::read_symlink(releases_.current_link()), fs::path("releases") / b);
  int entries = 0;
  for (const auto& e : fs::directory_iterator(releases_.project_dir())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 2);  // releases/ and current: no temporary links left
  EXPECT_EQ(releases_.SwitchCurrent("nope").message(), "no release nope");
  EXPECT_EQ(releases_.SwitchCurrent("nope").code(), StatusCode::kNotFound);
}

TEST_F(ReleasesTest, PruneKeepsTheNewestCurrentAndProtected) {
  struct Case {
    int keep;
    int current;
    int protect;
    std::vector<int> left;
  } cases[] = {
      {2, 4, -1, {3, 4}},
      {2, 0, -1, {0, 4}},  // current is old: kept, and one newest besides
      {2, 0, 1, {0, 1}},   // current and protected fill the quota
      {10, 4, -1, {0, 1, 2, 3, 4}},
  };
  for (const auto& c : cases) {
    testing::TempDir d;
    Releases rel(d / "p");
    std::vector<std::string> names;
    for (int i = 0; i < 5; ++i) {
      names.push_back(*rel.Create(dir_ / "ws", {"hello"}, FromUnixMillis(1000 * (i + 1)),
                                  std::string(40, 'a')));
    }
    fs::create_directories(rel.releases_dir() / "leftover.tmp");
    ASSERT_TRUE(rel.SwitchCurrent(names[c.current]).ok());
    std::set<std::string> protect;
    if (c.protect >= 0) protect.insert(names[c.protect]);
    ASSERT_TRUE(rel.Prune(c.keep, protect).ok());
    std::vector<std::string> expected;
    for (int i : c.left) expected.push_back(names[i]);
    EXPECT_EQ(rel.List(), expected) << "keep " << c.keep;
    EXPECT_FALSE(fs::exists(rel.releases_dir() / "leftover.tmp"));
  }
}

// Issue 11, item 1: a build output that is a symlink out of the workspace
// (Bazel's bazel-bin, a cache) was copied as the symlink, so the next build
// changed what every older release ran.
TEST_F(ReleasesTest, ALinkOutOfTheWorkspaceIsCopiedSoTheNextBuildCannotChangeTheRelease) {
  testing::WriteFile(dir_ / "cache/out/server", "version one");
  testing::WriteFile(dir_ / "cache/out/lib/helper", "helper one");
  fs::create_symlink(dir_ / "cache/out", dir_ / "ws/bazel-bin");
  std::vector<std::string> notes;
  auto r = releases_.Create(dir_ / "ws", {}, FromUnixMillis(1000), std::string(40, 'a'), &notes);
  ASSERT_TRUE(r.ok()) << r.error();
  testing::WriteFile(dir_ / "cache/out/server", "version two");
  const fs::path release = releases_.PathOf(*r);
  EXPECT_FALSE(fs::is_symlink(release / "bazel-bin"));
  EXPECT_EQ(testing::ReadFile(release / "bazel-bin/server"), "version one");
  EXPECT_EQ(testing::ReadFile(release / "bazel-bin/lib/helper"), "helper one");
  EXPECT_TRUE(fs::is_symlink(release / "link"));  // relative, inside: kept
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "copied what bazel-bin points to (" +
                          fs::canonical(dir_ / "cache/out").string() +
                          ") instead of the link: the release must not change when it does");
}

TEST_F(ReleasesTest, AnAbsoluteLinkIntoTheWorkspaceIsCopiedToo) {
  fs::create_symlink(fs::canonical(dir_ / "ws/static"), dir_ / "ws/assets");
  auto r = releases_.Create(dir_ / "ws", {}, FromUnixMillis(1000), std::string(40, 'a'));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(fs::is_symlink(releases_.PathOf(*r) / "assets"));
  EXPECT_EQ(testing::ReadFile(releases_.PathOf(*r) / "assets/css/site.css"), "body{}");
}

TEST_F(ReleasesTest, DanglingLinksOutAreLeftOutAndLoopsRefused) {
  fs::create_symlink("/nonexistent/anthill-test/testlogs", dir_ / "ws/bazel-testlogs");
  std::vector<std::string> notes;
  auto r = releases_.Create(dir_ / "ws", {}, FromUnixMillis(1000), std::string(40, 'a'), &notes);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(fs::exists(fs::symlink_status(releases_.PathOf(*r) / "bazel-testlogs")));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "left out bazel-testlogs: a symlink to /nonexistent/anthill-test/testlogs, "
            "which does not exist");

  testing::WriteFile(dir_ / "outside/x", "x");
  fs::create_symlink(dir_ / "outside", dir_ / "outside/again");
  fs::create_symlink(dir_ / "outside", dir_ / "ws/out");
  auto loop = releases_.Create(dir_ / "ws", {}, FromUnixMillis(2000), std::string(40, 'b'));
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error(), "out/again links back to " + fs::canonical(dir_ / "outside").string() +
                              ", which holds it: a symlink loop; list what the program needs in "
                              "`artifacts`");
  EXPECT_EQ(releases_.List().size(), 1u);
}

TEST_F(ReleasesTest, FollowingLinksIsBoundedAndTheErrorSaysWhatToDo) {
  testing::WriteFile(dir_ / "cache/big", std::string(4096, 'x'));
  fs::create_symlink(dir_ / "cache", dir_ / "ws/cache");
  releases_.set_max_followed_bytes(1000);
  auto r = releases_.Create(dir_ / "ws", {}, FromUnixMillis(1000), std::string(40, 'a'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "following symlinks out of the workspace would copy more than 0.0 GiB "
            "(at cache/big); list what the program needs in `artifacts`");
}

TEST_F(ReleasesTest, AReleaseIsReadOnlyOnceMadeAndCanStillBePruned) {
  std::string name = Make(1000);
  const fs::path r = releases_.PathOf(name);
  constexpr auto kWrite = fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write;
  for (const auto& p : {r, r / "hello", r / "static", r / "static/css/site.css"}) {
    EXPECT_EQ(fs::status(p).permissions() & kWrite, fs::perms::none) << p;
  }
  EXPECT_NE(fs::status(r / "hello").permissions() & fs::perms::owner_exec, fs::perms::none);
  Make(2000);
  Make(3000);
  ASSERT_TRUE(releases_.SwitchCurrent(releases_.List().back()).ok());
  auto deleted = releases_.Prune(1, {});
  ASSERT_TRUE(deleted.ok()) << deleted.error();
  EXPECT_EQ(releases_.List().size(), 1u);
}

}  // namespace
}  // namespace anthill::release
