// What a program keeps across releases (issue 17): `shared` paths, end to end
// with the real binary, real releases (read-only copies) and a real program.
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

namespace fs = std::filesystem;

// The program writes a line into state/starts each time it starts, as an
// app writes its SQLite database into instance/: two deploys and a rollback
// later, every line is still there, and each release links to the one dir.
TEST_F(AnthillTest, DataUnderASharedPathSurvivesDeploysAndARollback) {
  testing::WriteFile(origin() / "state" / "starts", "seeded by the build\n");
  Commit("state/ seeds the shared path");
  ProjectOptions opts;
  opts.extra = "shared = [\"state\"]\n";
  opts.run = "echo started >> state/starts && exec ./hello --port " + std::to_string(app_port_);
  WriteConfig(opts);
  const std::string first = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  const std::string second = CommitChange("second");
  ASSERT_EQ(WaitFinished(second)["status"], "succeeded");

  auto [code, out] = RunCli({"rollback", "hello", "-c", config_path_.string()});
  ASSERT_EQ(code, 0) << out;
  json back = Deployments()[0];
  ASSERT_EQ(WaitDeploymentEnded(back["id"].get<int64_t>())["status"], "succeeded") << back.dump(1);

  const fs::path shared = dir_ / "data/projects/hello/shared/state";
  EXPECT_EQ(testing::ReadFile(shared / "starts"),
            "seeded by the build\nstarted\nstarted\nstarted\n");
  int releases = 0;
  for (const auto& r : fs::directory_iterator(dir_ / "data/projects/hello/releases")) {
    ++releases;
    EXPECT_TRUE(fs::is_symlink(r.path() / "state")) << r.path();
    EXPECT_EQ(fs::read_symlink(r.path() / "state"), shared);
    // The rest of the release is still read-only.
    EXPECT_EQ(fs::status(r.path()).permissions() & fs::perms::owner_write, fs::perms::none);
  }
  EXPECT_EQ(releases, 2);
}

}  // namespace
}  // namespace anthill::e2e
