#include "deploy/rollback_targets.h"

#include <gtest/gtest.h>

#include <set>

namespace anthill::deploy {
namespace {

using S = store::DeploymentStatus;

store::Deployment Made(int64_t id, const std::string& release, S status) {
  store::Deployment d;
  d.id = id;
  d.project = "hello";
  d.release = release;
  d.to_version = "main-" + release;
  d.status = status;
  return d;
}

class RollbackTargetsTest : public ::testing::Test {
 protected:
  std::optional<int64_t> Find(const std::string& version, const std::string& running) {
    auto d = targets_.Find(version, running,
                           [this](const std::string& r) { return on_disk_.count(r) > 0; });
    if (!d) return std::nullopt;
    return d->id;
  }
  RollbackTargets targets_;
  std::set<std::string> on_disk_ = {"r1", "r2", "r3"};
};

TEST_F(RollbackTargetsTest, ByDefaultTheNewestGoodReleaseOtherThanWhatRuns) {
  targets_.Note(Made(1, "r1", S::kSucceeded));
  targets_.Note(Made(2, "r2", S::kSucceeded));
  targets_.Note(Made(3, "r3", S::kFailed));
  EXPECT_EQ(Find("", "r2"), 1) << "r3 never passed its check; r2 runs";
  EXPECT_EQ(Find("", "r3"), 2);
  on_disk_.erase("r1");
  EXPECT_EQ(Find("", "r2"), std::nullopt) << "r1 was pruned";
}

TEST_F(RollbackTargetsTest, ANamedVersionOrReleaseMatchesWhateverItsStatus) {
  targets_.Note(Made(3, "r3", S::kRolledBack));
  targets_.Note(Made(1, "r1", S::kSucceeded));
  EXPECT_EQ(Find("main-r3", "r1"), 3);
  EXPECT_EQ(Find("r1", "r3"), 1);
  EXPECT_EQ(Find("main-nope", "r1"), std::nullopt);
}

TEST_F(RollbackTargetsTest, ReadNewestFirstTheNewerDeploymentOfAReleaseWins) {
  // A rollback to r1 (id 5) is newer than the build of r1 (id 1).
  targets_.Note(Made(5, "r1", S::kSucceeded));
  targets_.Note(Made(1, "r1", S::kSucceeded));
  targets_.Note(Made(4, "r2", S::kSucceeded));
  EXPECT_EQ(Find("", "r2"), 5);
  EXPECT_EQ(Find("main-r1", "r2"), 5);
}

TEST_F(RollbackTargetsTest, KnowsOnlyWhenEveryReleaseHasItsNewestAndItsNewestGood) {
  const std::vector<std::string> releases = {"r1", "r2"};
  targets_.Note(Made(4, "r2", S::kFailed));
  targets_.Note(Made(3, "r1", S::kSucceeded));
  EXPECT_FALSE(targets_.Knows(releases)) << "r2 may have succeeded in an older deployment";
  targets_.Note(Made(2, "r2", S::kSucceeded));
  EXPECT_TRUE(targets_.Knows(releases));
  targets_.Forget({"r2"});
  EXPECT_FALSE(targets_.Knows(releases));
  EXPECT_EQ(Find("", "r1"), std::nullopt);
}

TEST_F(RollbackTargetsTest, DeploymentsWithoutAReleaseAreIgnored) {
  targets_.Note(Made(9, "", S::kFailed));
  EXPECT_TRUE(targets_.Knows({}));
  EXPECT_EQ(Find("", "r1"), std::nullopt);
}

}  // namespace
}  // namespace anthill::deploy
