#include "queue/project_queue.h"

#include <gtest/gtest.h>

namespace anthill::queue {
namespace {

Request Push(int64_t id, char c, int64_t ms) {
  Request r;
  r.deployment_id = id;
  r.target.commit = std::string(40, c);
  r.target.version = std::string("main-") + std::string(8, c);
  r.queued_at = FromUnixMillis(ms);
  return r;
}

TEST(ProjectQueue, FivePushesWhileBuildingLeaveOneRunningAndTheNewestWaiting) {
  ProjectQueue q;
  EXPECT_FALSE(q.Offer(Push(1, 'a', 1000)));
  q.StartNext();
  std::vector<int64_t> superseded;
  for (int i = 2; i <= 5; ++i) {
    if (auto old = q.Offer(Push(i, static_cast<char>('a' + i - 1), 1000 + i))) {
      superseded.push_back(old->deployment_id);
    }
  }
  EXPECT_EQ(superseded, (std::vector<int64_t>{2, 3, 4}));
  ASSERT_TRUE(q.running());
  EXPECT_EQ(q.running()->deployment_id, 1);
  ASSERT_TRUE(q.waiting());
  EXPECT_EQ(q.waiting()->deployment_id, 5);
  EXPECT_EQ(Label(*q.waiting()), "main-eeeeeeee");
  q.FinishRunning();
  EXPECT_EQ(q.StartNext().deployment_id, 5);
  EXPECT_FALSE(q.waiting());
}

TEST(ProjectQueue, CoversWhatIsRunningOrWaiting) {
  ProjectQueue q;
  EXPECT_FALSE(q.Covers(std::string(40, 'a')));
  (void)q.Offer(Push(1, 'a', 0));
  EXPECT_TRUE(q.Covers(std::string(40, 'a')));
  q.StartNext();
  EXPECT_TRUE(q.Covers(std::string(40, 'a')));
  EXPECT_FALSE(q.Covers(std::string(40, 'b')));
  EXPECT_FALSE(q.Covers(""));
  Request back;
  back.deployment_id = 2;
  back.kind = Kind::kRollback;
  back.target.commit = std::string(40, 'b');
  (void)q.Offer(back);
  EXPECT_FALSE(q.Covers(std::string(40, 'b'))) << "a rollback does not deploy a new commit";
}

TEST(ProjectQueue, QuietPeriodCountsFromTheLastOffer) {
  ProjectQueue q;
  (void)q.Offer(Push(1, 'a', 1000));
  (void)q.Offer(Push(2, 'b', 1500));
  EXPECT_EQ(q.ReadyAt(Duration(2000)), FromUnixMillis(3500));
}

TEST(ProjectQueue, RemoveWaitingOnlyByItsId) {
  ProjectQueue q;
  (void)q.Offer(Push(7, 'a', 0));
  EXPECT_FALSE(q.RemoveWaiting(8));
  auto r = q.RemoveWaiting(7);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->target.commit, std::string(40, 'a'));
  EXPECT_FALSE(q.waiting());
}

TEST(ProjectQueue, LabelFallsBackToRefThenRule) {
  Request r;
  EXPECT_EQ(Label(r), "the project's rule");
  r.target.ref = "refs/tags/release-2";
  EXPECT_EQ(Label(r), "refs/tags/release-2");
  r.target.version = "release-2";
  EXPECT_EQ(Label(r), "release-2");
}

}  // namespace
}  // namespace anthill::queue
