#include "deploy/outcome.h"

#include <gtest/gtest.h>

namespace anthill::deploy {
namespace {

using S = store::DeploymentStatus;

struct EndCase {
  EndFacts facts;
  S want;
  const char* why;
};

TEST(DecideEnd, OneTableForEveryWayADeploymentEnds) {
  const EndCase cases[] = {
      {{.ok = true}, S::kSucceeded, "every step passed"},
      {{.ok = true, .cancelled = true},
       S::kSucceeded,
       "a cancel after the last step changes nothing"},
      {{.shutting_down = true}, S::kInterrupted, "Anthill stopped during the build"},
      {{.shutting_down = true, .cancelled = true}, S::kInterrupted, "stopping wins over a cancel"},
      {{.shutting_down = true, .swapped = true, .rolled_back = true},
       S::kInterrupted,
       "stopping wins over a rollback"},
      {{.cancelled = true}, S::kCancelled, "cancelled before the swap"},
      {{.cancelled = true, .swapped = true}, S::kFailed, "a cancel after the old one stopped"},
      {{.cancelled = true, .swapped = true, .rolled_back = true},
       S::kRolledBack,
       "a cancel after the stop, then the rollback"},
      {{}, S::kFailed, "a build or test failed"},
      {{.swapped = true}, S::kFailed, "the new one failed and the rollback failed too"},
      {{.swapped = true, .rolled_back = true}, S::kRolledBack, "the new one failed its check"},
      {{.rolled_back = true}, S::kRolledBack, "zero-downtime: the old one never stopped"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(DecideEnd(c.facts), c.want) << c.why;
  }
}

TEST(PinsItsCommit, AutomaticDeploysDoNotRetryWhatFailedOrWasCancelled) {
  using queue::Kind;
  EXPECT_TRUE(PinsItsCommit(Kind::kDeploy, S::kFailed));
  EXPECT_TRUE(PinsItsCommit(Kind::kDeploy, S::kRolledBack));
  EXPECT_TRUE(PinsItsCommit(Kind::kDeploy, S::kCancelled));
  EXPECT_FALSE(PinsItsCommit(Kind::kDeploy, S::kSucceeded));
  EXPECT_FALSE(PinsItsCommit(Kind::kDeploy, S::kInterrupted)) << "it was never judged";
  EXPECT_FALSE(PinsItsCommit(Kind::kRollback, S::kFailed)) << "the release passed before";
  EXPECT_FALSE(PinsItsCommit(Kind::kRollback, S::kCancelled));
}

}  // namespace
}  // namespace anthill::deploy
