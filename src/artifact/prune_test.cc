#include "artifact/prune.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace anthill::artifact {
namespace {

// Job `job` of project hello, built `minute` minutes into the day, as
// release "r<job>" under key "hello/v<job>.tar.zst" unless told otherwise.
StoredArtifact Built(int64_t job, int minute, std::string key = "", std::string release = "") {
  if (key.empty()) key = "hello/v" + std::to_string(job) + ".tar.zst";
  if (release.empty()) release = "r" + std::to_string(job);
  return StoredArtifact{job, std::move(key), std::move(release),
                        FromUnixMillis(1'790'000'000'000 + minute * 60'000LL)};
}

std::vector<int64_t> Jobs(const std::vector<StoredArtifact>& artifacts) {
  std::vector<int64_t> jobs;
  for (const StoredArtifact& a : artifacts) jobs.push_back(a.job_id);
  return jobs;
}

// Five builds, given out of order: job n built at minute 10 * n.
std::vector<StoredArtifact> FiveBuilds() {
  return {Built(3, 30), Built(1, 10), Built(5, 50), Built(2, 20), Built(4, 40)};
}

TEST(ChooseArtifactsToPrune, KeepsTheNewestAndReturnsTheRestOldestFirst) {
  std::vector<StoredArtifact> pruned = ChooseArtifactsToPrune(FiveBuilds(), {}, 2);
  EXPECT_EQ(Jobs(pruned), (std::vector<int64_t>{1, 2, 3}));
  // Whole entries come back, as given.
  ASSERT_EQ(pruned.size(), 3u);
  EXPECT_EQ(pruned[0].key, "hello/v1.tar.zst");
  EXPECT_EQ(pruned[0].release, "r1");
  EXPECT_EQ(pruned[0].built_at, Built(1, 10).built_at);
}

TEST(ChooseArtifactsToPrune, HowManyAreKeptFollowsKeepAndNeverFallsBelowOne) {
  struct Case {
    int keep;
    std::vector<int64_t> pruned;
  };
  const Case cases[] = {
      {-5, {1, 2, 3, 4}}, {0, {1, 2, 3, 4}}, {1, {1, 2, 3, 4}}, {2, {1, 2, 3}},
      {4, {1}},           {5, {}},           {6, {}},           {1000, {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Jobs(ChooseArtifactsToPrune(FiveBuilds(), {}, c.keep)), c.pruned)
        << "keep " << c.keep;
  }
}

TEST(ChooseArtifactsToPrune, NoArtifactsNothingToPrune) {
  EXPECT_TRUE(ChooseArtifactsToPrune({}, {}, 1).empty());
  EXPECT_TRUE(ChooseArtifactsToPrune({}, {"r1"}, 0).empty());
  EXPECT_TRUE(ChooseArtifactsToPrune({Built(1, 10)}, {}, 0).empty())
      << "the only one is the newest";
}

TEST(ChooseArtifactsToPrune, AReleaseAMachineRunsIsKeptHoweverOld) {
  // Machines run r1 (the oldest) and an unfinished deployment uses r3: both
  // stay besides the newest two, which they do not count against.
  std::vector<StoredArtifact> pruned = ChooseArtifactsToPrune(FiveBuilds(), {"r1", "r3"}, 2);
  EXPECT_EQ(Jobs(pruned), (std::vector<int64_t>{2}));

  // In use and among the newest: kept once, nothing more is kept for it.
  pruned = ChooseArtifactsToPrune(FiveBuilds(), {"r5"}, 2);
  EXPECT_EQ(Jobs(pruned), (std::vector<int64_t>{1, 2, 3}));

  // Every release in use: nothing goes, whatever keep says.
  pruned = ChooseArtifactsToPrune(FiveBuilds(), {"r1", "r2", "r3", "r4", "r5"}, 1);
  EXPECT_TRUE(pruned.empty());
}

TEST(ChooseArtifactsToPrune, ReleasesInUseThatHaveNoArtifactChangeNothing) {
  // A machine may run a release built before artifacts were kept, or of
  // another project.
  std::vector<StoredArtifact> pruned =
      ChooseArtifactsToPrune(FiveBuilds(), {"r9", "", "hello/v1.tar.zst"}, 3);
  EXPECT_EQ(Jobs(pruned), (std::vector<int64_t>{1, 2}));
}

TEST(ChooseArtifactsToPrune, OnEqualTimesTheHigherJobIsTheNewer) {
  const std::vector<StoredArtifact> same_minute = {Built(7, 10), Built(9, 10), Built(8, 10)};
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(same_minute, {}, 1)), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(same_minute, {}, 2)), (std::vector<int64_t>{7}));

  // Time first, job id only on a tie: a higher job that finished earlier
  // is the older artifact.
  const std::vector<StoredArtifact> late_low_job = {Built(9, 10), Built(2, 20)};
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(late_low_job, {}, 1)), (std::vector<int64_t>{9}));
}

TEST(ChooseArtifactsToPrune, AKeyAKeptBuildAlsoHasStays) {
  // Job 5 rebuilt what job 1 built, under the same key: removing the key
  // for job 1 would take job 5's bytes.
  std::vector<StoredArtifact> builds = FiveBuilds();
  builds[1] = Built(1, 10, "hello/v5.tar.zst");
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(builds, {}, 1)), (std::vector<int64_t>{2, 3, 4}));

  // The same when the build that shares the key is kept for its release in
  // use: job 2 runs somewhere, and old job 1 stored the same key.
  builds = FiveBuilds();
  builds[1] = Built(1, 10, "hello/v2.tar.zst");
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(builds, {"r2"}, 1)), (std::vector<int64_t>{3, 4}));

  // And the other way round: an old build kept for its release keeps the
  // key a newer, otherwise prunable build also stored.
  builds = FiveBuilds();
  builds[0] = Built(3, 30, "hello/v1.tar.zst");
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(builds, {"r1"}, 1)), (std::vector<int64_t>{2, 4}));
}

TEST(ChooseArtifactsToPrune, AKeyIsReturnedOnceThoughSeveralPrunedBuildsHaveIt) {
  // Jobs 1 and 3 both stored hello/same.tar.zst; both are past keep. The
  // key is removed once, given as job 3 (whose bytes it holds now) and in
  // job 3's place in time.
  const std::vector<StoredArtifact> builds = {Built(1, 10, "hello/same.tar.zst"), Built(2, 20),
                                              Built(3, 30, "hello/same.tar.zst"), Built(4, 40),
                                              Built(5, 50)};
  std::vector<StoredArtifact> pruned = ChooseArtifactsToPrune(builds, {}, 2);
  EXPECT_EQ(Jobs(pruned), (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(pruned.size(), 2u);
  EXPECT_EQ(pruned[1].key, "hello/same.tar.zst");

  // The same row given twice (a record read twice) comes back once.
  const std::vector<StoredArtifact> twice = {Built(1, 10), Built(1, 10), Built(2, 20)};
  EXPECT_EQ(Jobs(ChooseArtifactsToPrune(twice, {}, 1)), (std::vector<int64_t>{1}));
}

TEST(ChooseArtifactsToPrune, TheAnswerDoesNotDependOnTheOrderGiven) {
  std::vector<StoredArtifact> builds = {Built(1, 10, "hello/same.tar.zst"),
                                        Built(2, 20),
                                        Built(3, 30, "hello/same.tar.zst"),
                                        Built(4, 20),
                                        Built(5, 50),
                                        Built(6, 60)};
  const std::set<std::string> in_use = {"r2"};
  std::sort(builds.begin(), builds.end(),
            [](const StoredArtifact& a, const StoredArtifact& b) { return a.job_id < b.job_id; });
  // Kept: 6 and 5 (the newest two), 2 (in use). Pruned: 4 (as old as 2,
  // a higher job), and hello/same.tar.zst once, as job 3.
  int orders = 0;
  do {
    ++orders;
    EXPECT_EQ(Jobs(ChooseArtifactsToPrune(builds, in_use, 2)), (std::vector<int64_t>{4, 3}))
        << "order #" << orders;
  } while (std::next_permutation(
      builds.begin(), builds.end(),
      [](const StoredArtifact& a, const StoredArtifact& b) { return a.job_id < b.job_id; }));
  EXPECT_EQ(orders, 720);
}

}  // namespace
}  // namespace anthill::artifact
