#include "deploy/intake.h"

#include <gtest/gtest.h>

#include "store/store.h"
#include "testing/testing.h"

namespace anthill::deploy {
namespace {

const std::string kOld(40, 'a');
const std::string kNew(40, 'b');
const std::string kNewer(40, 'c');

store::Candidate Commit(const std::string& sha) {
  return {"refs/heads/main", sha, "main-" + sha.substr(0, 8)};
}

class IntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "anthill.db", "m1");
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
    intake_ = MakeIntake();
  }
  std::unique_ptr<Intake> MakeIntake() {
    return std::make_unique<Intake>("hello", "m1", store_.get(), [this] { ++wakes_; });
  }
  store::Deployment Row(int64_t id) {
    auto d = store_->GetDeployment(id);
    EXPECT_TRUE(d.ok() && d->has_value());
    return d.ok() && d->has_value() ? **d : store::Deployment{};
  }
  static std::string Answer(const ActionOutcome& o) {
    return !o.ok() ? std::string(ToString(o.code)) : o.accepted ? "accepted" : "done";
  }
  ActionOutcome Offer(const std::string& sha) {
    return intake_->OfferAutomatic(Commit(sha), store::Trigger::kPoll, "poll", running_);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::LocalStore> store_;
  std::unique_ptr<Intake> intake_;
  NowRunning running_{true, "main-aaaaaaaa", kOld};
  int wakes_ = 0;
};

TEST_F(IntakeTest, APollOfWhatRunsAddsNothing) {
  ActionOutcome out = Offer(kOld);
  EXPECT_EQ(Answer(out), "done");
  EXPECT_EQ(out.message, "main-aaaaaaaa is already running or queued");
  EXPECT_EQ(out.deployment_id, 0);
  EXPECT_FALSE(intake_->queue().waiting());
  EXPECT_EQ(wakes_, 0);
}

TEST_F(IntakeTest, ANewCommitIsRecordedQueuedFromWhatRuns) {
  ActionOutcome out = Offer(kNew);
  ASSERT_EQ(Answer(out), "accepted") << out.message;
  EXPECT_EQ(out.message,
            "deployment " + std::to_string(out.deployment_id) + " queued: main-bbbbbbbb");
  store::Deployment d = Row(out.deployment_id);
  EXPECT_EQ(d.status, store::DeploymentStatus::kQueued);
  EXPECT_EQ(d.from_commit, kOld);
  EXPECT_EQ(d.to_commit, kNew);
  EXPECT_EQ(d.machine, "m1");
  EXPECT_EQ(wakes_, 1);
  EXPECT_EQ(Answer(Offer(kNew)), "done") << "queued already";
}

TEST_F(IntakeTest, ANewerPushSupersedesTheWaitingOne) {
  const int64_t first = Offer(kNew).deployment_id;
  const int64_t second = Offer(kNewer).deployment_id;
  ASSERT_NE(second, 0);
  EXPECT_EQ(intake_->queue().waiting()->deployment_id, second);
  store::Deployment d = Row(first);
  EXPECT_EQ(d.status, store::DeploymentStatus::kCancelled);
  EXPECT_EQ(d.error, "superseded by main-cccccccc");
  EXPECT_TRUE(d.finished_at.has_value());
}

TEST_F(IntakeTest, APinnedCommitIsNotOfferedAgainAfterARestart) {
  intake_->Pin(kNew, "failed in deployment 7");
  intake_ = MakeIntake();
  intake_->LoadPins(*store_->ListPins("hello"));
  ActionOutcome out = Offer(kNew);
  EXPECT_EQ(Answer(out), "done");
  EXPECT_EQ(out.message,
            "main-bbbbbbbb is pinned out (failed in deployment 7); deploy it by "
            "hand or push a newer commit");
  EXPECT_EQ(intake_->newest_pin(), kNew);
  intake_->Unpin(kNew);
  EXPECT_EQ(Answer(Offer(kNew)), "accepted");
  intake_ = MakeIntake();
  intake_->LoadPins(*store_->ListPins("hello"));
  EXPECT_TRUE(intake_->pins().empty()) << "the unpin was recorded";
}

TEST_F(IntakeTest, APushDuringARollbackWaits) {
  queue::Request r;
  r.kind = queue::Kind::kRollback;
  r.trigger = store::Trigger::kRollback;
  r.actor = "alice";
  r.target.commit = kOld;
  r.target.version = "main-aaaaaaaa";
  ASSERT_EQ(Answer(intake_->Enqueue(r, running_)), "accepted");
  ActionOutcome out = Offer(kNew);
  EXPECT_EQ(Answer(out), "done");
  EXPECT_EQ(out.message, "a rollback is in progress; main-bbbbbbbb waits");
}

TEST_F(IntakeTest, CancellingTheWaitingDeploymentPinsItsCommit) {
  const int64_t id = Offer(kNew).deployment_id;
  EXPECT_FALSE(intake_->CancelWaiting(id + 1, "bob").has_value()) << "not the waiting one";
  auto out = intake_->CancelWaiting(id, "bob");
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(Answer(*out), "done");
  EXPECT_EQ(Row(id).status, store::DeploymentStatus::kCancelled);
  EXPECT_EQ(Row(id).error, "cancelled by bob");
  EXPECT_EQ(intake_->pins().at(kNew), "cancelled by bob");
  EXPECT_EQ(Answer(Offer(kNew)), "done") << "pinned";
}

TEST_F(IntakeTest, ADeployOfWhatAlreadyRunsIsDroppedUnlessByHand) {
  queue::Request poll;
  poll.deployment_id = Offer(kNew).deployment_id;
  poll.target.commit = kNew;
  NowRunning now{true, "main-bbbbbbbb", kNew};  // it got there another way meanwhile
  EXPECT_TRUE(intake_->DropIfRedundant(poll, Commit(kNew), now));
  EXPECT_EQ(Row(poll.deployment_id).error, "main-bbbbbbbb is already running; nothing to deploy");
  queue::Request by_hand = poll;
  by_hand.manual = true;
  EXPECT_FALSE(intake_->DropIfRedundant(by_hand, Commit(kNew), now)) << "by hand: start it again";
  EXPECT_FALSE(intake_->DropIfRedundant(poll, Commit(kNew), NowRunning{false, "", kNew}))
      << "it does not run";
}

TEST_F(IntakeTest, ADeployByHandThatResolvesToTheWaitingCommitReplacesIt) {
  queue::Request by_hand;
  by_hand.trigger = store::Trigger::kManual;
  by_hand.actor = "alice";
  by_hand.manual = true;
  ASSERT_EQ(Answer(intake_->Enqueue(by_hand, running_)), "accepted");
  (void)intake_->queue().StartNext();
  const int64_t waiting = Offer(kNew).deployment_id;
  ASSERT_NE(waiting, 0);
  intake_->Resolved(Commit(kNew));
  EXPECT_FALSE(intake_->queue().waiting());
  EXPECT_EQ(intake_->queue().running()->target.commit, kNew);
  EXPECT_EQ(Row(waiting).status, store::DeploymentStatus::kCancelled);
  EXPECT_EQ(Answer(Offer(kNew)), "done") << "being deployed";
}

}  // namespace
}  // namespace anthill::deploy
