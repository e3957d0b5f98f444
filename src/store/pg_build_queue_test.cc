// The fleet's build queue in PostgreSQL, as builders and orchestrators use
// it: a job queued, claimed, built and finished; builders claiming at once;
// labels a job needs and why it waits; a builder that stops answering and
// the builder that takes its job over; cancels; wake-ups by notification;
// bytes that are not UTF-8. Against a real PostgreSQL 15 (testing::Postgres),
// a fresh database per test.
#include "store/pg_build_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <set>

#include "base/event.h"
#include "store/pg_change_listener.h"
#include "store/pg_job_listener.h"
#include "store/pg_loop_test.h"
#include "store/pg_record_store.h"
#include "testing/postgres.h"
#include "testing/testing.h"

namespace anthill::store {

namespace {

namespace asio = boost::asio;
using QueuePtr = std::unique_ptr<PgBuildQueue>;
using Labels = std::vector<std::string>;

const std::string kLost = "builder b1 stopped answering (lease expired)";

BuildJobSpec Spec(int64_t deployment_id, Labels labels = {}) {
  BuildJobSpec s;
  s.deployment_id = deployment_id;
  s.project = "hello";
  s.repo = "https://git.example/hello.git";
  s.commit = std::string(40, '2');
  s.ref = "refs/heads/main";
  s.version = "main-22222222";
  s.build = "make";
  s.test = "make check";
  s.artifacts = {"bin/hello"};
  s.env = {"CC=gcc"};
  s.timeout = Duration(600000);
  s.clean = "on-failure";
  s.labels = std::move(labels);
  return s;
}

class PgBuildQueueTest : public PgLoopTest {
 protected:
  // A queue with options_, as one process of the fleet opens it.
  QueuePtr Open() {
    QueuePtr queue;
    Run([&]() -> asio::awaitable<void> {
      auto executor = io_.get_executor();
      auto opened = co_await PgBuildQueue::Open(executor, conninfo_, options_);
      EXPECT_TRUE(opened.ok()) << opened.error();
      if (opened.ok()) queue = std::move(*opened);
    });
    return queue;
  }

  // Runs one statement on a connection of its own: the test's view of the
  // database. A string_view, so that a call with a literal makes no
  // std::string inside the caller's co_await (GCC 12).
  asio::awaitable<PgResult> Sql(std::string_view statement, const PgParams& params = kNone) {
    auto executor = io_.get_executor();
    auto conn = co_await PgConnection::Connect(executor, conninfo_);
    EXPECT_TRUE(conn.ok()) << conn.error();
    if (!conn.ok()) co_return PgResult{};
    std::string sql(statement);
    auto result = co_await (*conn)->Query(sql, params);
    EXPECT_TRUE(result.ok()) << sql << ": " << result.error();
    co_return result.ok() ? std::move(*result) : PgResult{};
  }

  // ReclaimExpired, tried every 50 ms until it takes something back (a
  // lease runs out on the server's clock; nothing announces it), for 30 s.
  static asio::awaitable<std::vector<BuildJobRow>> ReclaimOnceExpired(PgBuildQueue& queue) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const Duration pause(50);
    while (std::chrono::steady_clock::now() < deadline) {
      auto taken = co_await queue.ReclaimExpired();
      EXPECT_TRUE(taken.ok()) << taken.error();
      if (!taken.ok() || !taken->empty())
        co_return taken.ok() ? *taken : std::vector<BuildJobRow>{};
      co_await SleepFor(pause);
    }
    ADD_FAILURE() << "no lease ran out in 30 s";
    co_return std::vector<BuildJobRow>{};
  }

  // Queues `spec`, claims it as b1 and ends it with `outcome`; returns its
  // id (0 when a step failed, and the test fails). Nothing else may be
  // queued: the claim takes the oldest.
  static asio::awaitable<int64_t> Built(PgBuildQueue& queue, BuildJobSpec spec,
                                        BuildOutcome outcome) {
    auto id = co_await queue.Enqueue(spec);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) co_return 0;
    const std::string b1 = "b1";
    const Labels labels = spec.labels;
    auto claimed = co_await queue.Claim(b1, labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value() && (*claimed)->id == *id);
    if (!claimed.ok() || !claimed->has_value()) co_return 0;
    auto finished = co_await queue.Finish(*id, b1, (*claimed)->attempt, outcome);
    EXPECT_TRUE(finished.ok()) << finished.message();
    co_return *id;
  }

  static inline const PgParams kNone;
  PgBuildQueue::Options options_;
};

TEST_F(PgBuildQueueTest, AQueuedJobIsClaimedBuiltAndFinishedWithItsArtifact) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const BuildJobSpec spec = Spec(7, {"linux"});
    auto id = co_await queue->Enqueue(spec);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) co_return;
    auto queued = co_await queue->Get(*id);
    EXPECT_EQ(queued->status, BuildJobStatus::kQueued);
    EXPECT_EQ(queued->attempt, 0);

    const BuilderInfo b1{"b1", {"linux", "x86_64"}, 2};
    auto registered = co_await queue->RegisterBuilder(b1);
    EXPECT_TRUE(registered.ok()) << registered.message();
    const std::string name = "b1";
    auto claimed = co_await queue->Claim(name, b1.labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value()) << claimed.error();
    if (!claimed.ok() || !claimed->has_value()) co_return;
    const BuildJobRow& job = **claimed;
    EXPECT_EQ(job.id, *id);
    EXPECT_EQ(job.status, BuildJobStatus::kRunning);
    EXPECT_EQ(job.attempt, 1);
    EXPECT_EQ(job.builder, "b1");
    EXPECT_EQ(job.spec.deployment_id, 7);
    EXPECT_EQ(job.spec.repo, spec.repo);
    EXPECT_EQ(job.spec.commit, spec.commit);
    EXPECT_EQ(job.spec.version, spec.version);
    EXPECT_EQ(job.spec.build, "make");
    EXPECT_EQ(job.spec.test, "make check");
    EXPECT_EQ(job.spec.artifacts, Labels{"bin/hello"});
    EXPECT_EQ(job.spec.env, Labels{"CC=gcc"});
    EXPECT_EQ(job.spec.timeout, Duration(600000));
    EXPECT_EQ(job.spec.clean, "on-failure");
    EXPECT_EQ(job.spec.labels, Labels{"linux"});
    EXPECT_TRUE(job.started_at && job.lease_until);
    if (job.started_at && job.lease_until) {
      EXPECT_EQ(*job.lease_until - *job.started_at, options_.lease) << "the server's now + lease";
    }
    auto nothing_left = co_await queue->Claim(name, b1.labels);
    EXPECT_TRUE(nothing_left.ok() && !nothing_left->has_value());

    auto renewed = co_await queue->Renew(job.id, name, job.attempt);
    EXPECT_TRUE(renewed.ok()) << renewed.message();
    const BuildOutcome built =
        BuildOutcome::Succeeded("hello/main-22222222.tar.zst", std::string(64, 'a'), 12345,
                                "20261124T150058.123Z-222222222222");
    auto finished = co_await queue->Finish(job.id, name, job.attempt, built);
    EXPECT_TRUE(finished.ok()) << finished.message();

    auto done = co_await queue->Get(job.id);
    EXPECT_EQ(done->status, BuildJobStatus::kSucceeded);
    EXPECT_EQ(done->builder, "b1") << "who built it stays";
    EXPECT_EQ(done->artifact_key, "hello/main-22222222.tar.zst");
    EXPECT_EQ(done->artifact_sha256, std::string(64, 'a'));
    EXPECT_EQ(done->artifact_size, 12345);
    EXPECT_EQ(done->release, "20261124T150058.123Z-222222222222");
    EXPECT_TRUE(done->finished_at.has_value());
    EXPECT_FALSE(done->lease_until.has_value());
    EXPECT_EQ(done->error, "");

    // Once finished, the attempt can neither renew nor finish again.
    auto again = co_await queue->Finish(job.id, name, job.attempt, built);
    EXPECT_EQ(again.code(), StatusCode::kConflict);
    EXPECT_EQ(again.message(), "build queue: finish build job " + std::to_string(job.id) +
                                   ": attempt 1 on b1 no longer holds it: it has succeeded");
    auto open = co_await queue->ListOpen();
    EXPECT_TRUE(open.ok() && open->empty());
    // The deployment's page finds its build and artifact by its id.
    auto of_deployment = co_await queue->JobsOfDeployment(7);
    EXPECT_TRUE(of_deployment.ok() && of_deployment->size() == 1u);
    if (of_deployment.ok() && of_deployment->size() == 1u) {
      EXPECT_EQ(of_deployment->at(0).artifact_sha256, std::string(64, 'a'));
    }
    auto of_another = co_await queue->JobsOfDeployment(8);
    EXPECT_TRUE(of_another.ok() && of_another->empty());
  });
}

TEST_F(PgBuildQueueTest, WhatCannotBeAJobABuilderOrAnEndIsRefused) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const BuildJobSpec no_deployment = Spec(0);
    auto job = co_await queue->Enqueue(no_deployment);
    EXPECT_EQ(job.code(), StatusCode::kInvalidArgument);
    const BuilderInfo no_slots{"b1", {}, 0};
    auto builder = co_await queue->RegisterBuilder(no_slots);
    EXPECT_EQ(builder.code(), StatusCode::kInvalidArgument);
    const std::string stranger = "b9";
    auto heartbeat = co_await queue->Heartbeat(stranger);
    EXPECT_EQ(heartbeat.code(), StatusCode::kNotFound);
    EXPECT_EQ(heartbeat.message(), "build queue: heartbeat of b9: no such builder is registered");
    BuildOutcome not_an_end;
    not_an_end.status = BuildJobStatus::kRunning;
    auto finished = co_await queue->Finish(1, stranger, 1, not_an_end);
    EXPECT_EQ(finished.code(), StatusCode::kInvalidArgument);
    auto missing = co_await queue->Get(42);
    EXPECT_EQ(missing.code(), StatusCode::kNotFound);
    auto renew_missing = co_await queue->Renew(42, stranger, 1);
    EXPECT_EQ(renew_missing.code(), StatusCode::kNotFound);
  });
}

// Four claim loops on two queues (two processes), all at once: every job
// is claimed, and by one of them only.
TEST_F(PgBuildQueueTest, BuildersClaimingAtOnceNeverGetTheSameJob) {
  QueuePtr a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  const int kJobs = 20;
  Run([&]() -> asio::awaitable<void> {
    for (int i = 1; i <= kJobs; ++i) {
      const BuildJobSpec spec = Spec(i);
      auto id = co_await a->Enqueue(spec);
      EXPECT_TRUE(id.ok()) << id.error();
    }
  });

  std::vector<int64_t> claimed;
  int loops_done = 0;
  auto claim_all = [&](PgBuildQueue& queue, std::string name) -> asio::awaitable<void> {
    const Labels labels;
    while (true) {
      auto job = co_await queue.Claim(name, labels);
      EXPECT_TRUE(job.ok()) << job.error();
      if (!job.ok() || !job->has_value()) break;
      EXPECT_EQ((*job)->attempt, 1);
      EXPECT_EQ((*job)->builder, name);
      claimed.push_back((*job)->id);
    }
    ++loops_done;
  };
  asio::co_spawn(io_, claim_all(*a, "b1"), asio::detached);
  asio::co_spawn(io_, claim_all(*b, "b2"), asio::detached);
  asio::co_spawn(io_, claim_all(*a, "b3"), asio::detached);
  asio::co_spawn(io_, claim_all(*b, "b4"), asio::detached);
  ASSERT_TRUE(RunUntil([&] { return loops_done == 4; }));

  EXPECT_EQ(claimed.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()).size(), static_cast<size_t>(kJobs))
      << "a job was claimed twice";
  Run([&]() -> asio::awaitable<void> {
    auto running = co_await Sql("SELECT count(*) FROM build_jobs WHERE status = 'running'");
    EXPECT_EQ(running.rows.at(0).at(0), std::to_string(kJobs));
  });
}

TEST_F(PgBuildQueueTest, AJobNeedingLabelsNoLiveBuilderHasWaitsAndSaysWhy) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  std::vector<std::string> why;  // the open jobs' waiting_for, by id
  auto list = [&]() -> asio::awaitable<void> {
    auto open = co_await queue->ListOpen();
    EXPECT_TRUE(open.ok()) << open.error();
    why.clear();
    if (open.ok()) {
      for (const auto& v : *open) why.push_back(v.waiting_for);
    }
  };
  const BuilderInfo cpu{"cpu1", {"linux", "x86_64"}, 1};
  const BuilderInfo gpu{"gpu1", {"linux", "gpu"}, 1};

  Run([&]() -> asio::awaitable<void> {
    auto registered = co_await queue->RegisterBuilder(cpu);
    const BuildJobSpec needs_gpu = Spec(1, {"gpu"}), needs_two = Spec(2, {"gpu", "arm64"});
    auto first = co_await queue->Enqueue(needs_gpu);
    auto second = co_await queue->Enqueue(needs_two);
    EXPECT_TRUE(registered.ok() && first.ok() && second.ok());
    auto not_for_cpu = co_await queue->Claim(cpu.name, cpu.labels);
    EXPECT_TRUE(not_for_cpu.ok() && !not_for_cpu->has_value()) << "cpu1 has no gpu";
    co_await list();
  });
  EXPECT_EQ(why, (Labels{"no builder has labels gpu", "no builder has labels gpu, arm64"}));

  int64_t claimed = 0;
  Run([&]() -> asio::awaitable<void> {
    auto registered = co_await queue->RegisterBuilder(gpu);
    EXPECT_TRUE(registered.ok()) << registered.message();
    co_await list();
    EXPECT_EQ(why, (Labels{"waiting for a free builder to claim it",
                           "no builder has labels gpu, arm64"}));
    auto job = co_await queue->Claim(gpu.name, gpu.labels);
    EXPECT_TRUE(job.ok() && job->has_value()) << job.error();
    claimed = job.ok() && job->has_value() ? (*job)->id : 0;
    const BuildJobSpec another_gpu = Spec(3, {"gpu"});
    auto third = co_await queue->Enqueue(another_gpu);
    EXPECT_TRUE(third.ok());
    co_await list();
  });
  EXPECT_EQ(claimed, 1);
  EXPECT_EQ(why, (Labels{"", "no builder has labels gpu, arm64",
                         "all builders with its labels are busy"}));

  // Builders that stopped heartbeating are not counted.
  Run([&]() -> asio::awaitable<void> {
    auto silent = co_await Sql("UPDATE builders SET seen_at = 0");
    const BuildJobSpec anything = Spec(4);
    auto fourth = co_await queue->Enqueue(anything);
    EXPECT_TRUE(fourth.ok());
    co_await list();
    EXPECT_EQ(why, (Labels{"", "no builder has labels gpu, arm64", "no builder has labels gpu",
                           "no builder is alive"}));
    const std::string name = cpu.name;
    auto beat = co_await queue->Heartbeat(name);
    EXPECT_TRUE(beat.ok()) << beat.message();
    co_await list();
    EXPECT_EQ(why.at(3), "waiting for a free builder to claim it");
  });
}

// Issue: "A builder killed mid-build loses its lease and another builder
// takes the job; the first attempt's steps are recorded `interrupted` and
// the second's as a new attempt."
TEST_F(PgBuildQueueTest, ABuilderThatStopsAnsweringLosesItsJobToTheNextAsAttempt2) {
  options_.lease = Duration(1000);
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  std::unique_ptr<PgRecordStore> record;
  Deployment d, other;
  int64_t job_id = 0, running_step = 0;
  Run([&]() -> asio::awaitable<void> {
    auto executor = io_.get_executor();
    const std::string machine = "m1";
    auto opened = co_await PgRecordStore::Open(executor, conninfo_, machine);
    EXPECT_TRUE(opened.ok()) << opened.error();
    if (!opened.ok()) co_return;
    record = std::move(*opened);
    d.project = other.project = "hello";
    d.machine = other.machine = "m1";
    d.status = other.status = DeploymentStatus::kRunning;
    d.started_at = other.started_at = FromUnixMillis(1795532458000);
    auto made = co_await record->CreateDeployment(d);
    auto made_other = co_await record->CreateDeployment(other);
    d.id = made.ok() ? *made : 0;
    other.id = made_other.ok() ? *made_other : 0;
    auto fetch = co_await record->StartStep(d.id, StepName::kFetch, d.started_at);
    const std::string no_error;
    auto fetched =
        co_await record->FinishStep(*fetch, StepStatus::kSucceeded, d.started_at, no_error);
    auto build = co_await record->StartStep(d.id, StepName::kBuild, d.started_at);
    running_step = build.ok() ? *build : 0;
    auto elsewhere = co_await record->StartStep(other.id, StepName::kBuild, other.started_at);
    EXPECT_TRUE(fetched.ok() && build.ok() && elsewhere.ok());

    const BuildJobSpec spec = Spec(d.id);
    auto id = co_await queue->Enqueue(spec);
    job_id = id.ok() ? *id : 0;
    const std::string b1 = "b1";
    const Labels labels;
    auto claimed = co_await queue->Claim(b1, labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value() && (*claimed)->attempt == 1);
  });
  ASSERT_NE(record, nullptr);

  // Who watches: a UI (the record's changes) and an idle builder (the queue).
  ChangeFeed feed;
  std::vector<int64_t> changed;
  auto subscription = feed.Subscribe([&](const Change& c) { changed.push_back(c.deployment_id); });
  PgChangeListener changes(io_.get_executor(), conninfo_, feed);
  PgJobListener jobs(io_.get_executor(), conninfo_);
  changes.Start();
  jobs.Start();
  ASSERT_TRUE(RunUntil([&] { return changes.listening() && jobs.listening(); }));
  std::optional<bool> idle_builder_woke;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        const Duration max_wait(25000);
        idle_builder_woke = co_await jobs.WaitForWork(max_wait);
      },
      asio::detached);

  // b1 never renews: its lease runs out and the job goes back.
  Run([&]() -> asio::awaitable<void> {
    auto taken = co_await ReclaimOnceExpired(*queue);
    EXPECT_EQ(taken.size(), 1u);
    if (taken.size() != 1u) co_return;
    EXPECT_EQ(taken[0].id, job_id);
    EXPECT_EQ(taken[0].status, BuildJobStatus::kQueued);
    EXPECT_EQ(taken[0].attempt, 1);
    EXPECT_EQ(taken[0].builder, "");
    EXPECT_EQ(taken[0].error, kLost);
    auto again = co_await queue->ReclaimExpired();
    EXPECT_TRUE(again.ok() && again->empty()) << "taken back once";
    const std::string b1 = "b1";
    auto late_renewal = co_await queue->Renew(job_id, b1, 1);
    EXPECT_EQ(late_renewal.code(), StatusCode::kConflict);
    EXPECT_EQ(late_renewal.message(), "build queue: renew build job " + std::to_string(job_id) +
                                          ": attempt 1 on b1 no longer holds it: it was taken "
                                          "back and is queued");

    auto got = co_await record->GetDeployment(d.id);
    EXPECT_TRUE(got.ok() && got->has_value());
    if (!got.ok() || !got->has_value()) co_return;
    const auto& steps = (*got)->steps;
    EXPECT_EQ(steps.size(), 2u);
    if (steps.size() != 2u) co_return;
    EXPECT_EQ(steps[0].status, StepStatus::kSucceeded) << "a finished step stays as it was";
    EXPECT_EQ(steps[1].id, running_step);
    EXPECT_EQ(steps[1].status, StepStatus::kInterrupted);
    EXPECT_EQ(steps[1].error, kLost);
    EXPECT_TRUE(steps[1].finished_at.has_value());
    auto got_other = co_await record->GetDeployment(other.id);
    EXPECT_EQ((*got_other)->steps.at(0).status, StepStatus::kRunning)
        << "another deployment's step is not the lost builder's";
  });
  ASSERT_TRUE(RunUntil([&] { return idle_builder_woke.has_value(); }));
  EXPECT_TRUE(*idle_builder_woke) << "woken by the job queued again, not by its time limit";
  ASSERT_TRUE(RunUntil([&] { return !changed.empty(); }));
  EXPECT_EQ(changed, std::vector<int64_t>{d.id});

  // b2 takes it as attempt 2 and records its own step; b1, if it comes back,
  // is told the job is no longer its own.
  Run([&]() -> asio::awaitable<void> {
    const std::string b1 = "b1", b2 = "b2";
    const Labels labels;
    auto claimed = co_await queue->Claim(b2, labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value()) << claimed.error();
    if (!claimed.ok() || !claimed->has_value()) co_return;
    EXPECT_EQ((*claimed)->id, job_id);
    EXPECT_EQ((*claimed)->attempt, 2);
    EXPECT_EQ((*claimed)->builder, "b2");
    auto build = co_await record->StartStep(d.id, StepName::kBuild, d.started_at);
    EXPECT_TRUE(build.ok());

    auto renewed = co_await queue->Renew(job_id, b1, 1);
    EXPECT_EQ(renewed.code(), StatusCode::kConflict);
    EXPECT_EQ(renewed.message(), "build queue: renew build job " + std::to_string(job_id) +
                                     ": attempt 1 on b1 no longer holds it: it is attempt 2, "
                                     "on b2");
    const BuildOutcome late = BuildOutcome::Failed("exit 1");
    auto finished_late = co_await queue->Finish(job_id, b1, 1, late);
    EXPECT_EQ(finished_late.code(), StatusCode::kConflict);

    const BuildOutcome built = BuildOutcome::Succeeded("hello/v.tar.zst", "ab", 1, "r");
    auto finished = co_await queue->Finish(job_id, b2, 2, built);
    EXPECT_TRUE(finished.ok()) << finished.message();
    auto job = co_await queue->Get(job_id);
    EXPECT_EQ(job->status, BuildJobStatus::kSucceeded);
    EXPECT_EQ(job->attempt, 2);
    EXPECT_EQ(job->builder, "b2");
    EXPECT_EQ(job->error, "");
    auto got = co_await record->GetDeployment(d.id);
    const auto& steps = (*got)->steps;
    EXPECT_EQ(steps.size(), 3u);
    if (steps.size() == 3u) {
      EXPECT_EQ(steps[1].status, StepStatus::kInterrupted) << "attempt 1's build";
      EXPECT_EQ(steps[2].status, StepStatus::kRunning) << "attempt 2's build";
    }
  });
  changes.Stop();
  jobs.Stop();
}

TEST_F(PgBuildQueueTest, ProcessesReclaimingAtOnceTakeEachJobBackOnce) {
  options_.lease = Duration(1000);
  QueuePtr a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  Run([&]() -> asio::awaitable<void> {
    const std::string b1 = "b1";
    const Labels labels;
    for (int i = 1; i <= 3; ++i) {
      const BuildJobSpec spec = Spec(i);
      auto id = co_await a->Enqueue(spec);
      auto claimed = co_await a->Claim(b1, labels);
      EXPECT_TRUE(id.ok() && claimed.ok() && claimed->has_value());
    }
  });
  std::vector<int64_t> taken;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (taken.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    int rounds = 0;
    auto reclaim = [&](PgBuildQueue& queue) -> asio::awaitable<void> {
      auto back = co_await queue.ReclaimExpired();
      EXPECT_TRUE(back.ok()) << back.error();
      if (back.ok()) {
        for (const auto& job : *back) taken.push_back(job.id);
      }
      ++rounds;
    };
    asio::co_spawn(io_, reclaim(*a), asio::detached);
    asio::co_spawn(io_, reclaim(*b), asio::detached);
    ASSERT_TRUE(RunUntil([&] { return rounds == 2; }));
    if (taken.size() < 3) {
      Run([&]() -> asio::awaitable<void> {
        const Duration pause(50);  // leases run out on the server's clock
        co_await SleepFor(pause);
      });
    }
  }
  std::sort(taken.begin(), taken.end());
  EXPECT_EQ(taken, (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(PgBuildQueueTest, ARenewedLeaseIsNotTakenBackEvenAfterItRanOut) {
  options_.lease = Duration(2000);
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const BuildJobSpec spec = Spec(1);
    auto id = co_await queue->Enqueue(spec);
    const std::string b1 = "b1";
    const Labels labels;
    auto claimed = co_await queue->Claim(b1, labels);
    EXPECT_TRUE(id.ok() && claimed.ok() && claimed->has_value());
    if (!claimed.ok() || !claimed->has_value()) co_return;
    const BuildJobRow job = **claimed;

    // Wait, by the server's clock, until the lease has run out; no one
    // reclaims meanwhile (a slow builder, a reclaimer not yet round).
    const std::string ran_out =
        "SELECT lease_until < (extract(epoch FROM now()) * 1000)::bigint FROM build_jobs";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const Duration pause(50);
    while (std::chrono::steady_clock::now() < deadline) {
      auto expired = co_await Sql(ran_out);
      if (expired.rows.at(0).at(0) == "t") break;
      co_await SleepFor(pause);
    }
    auto renewed = co_await queue->Renew(job.id, b1, job.attempt);
    EXPECT_TRUE(renewed.ok()) << renewed.message();
    auto reclaimed = co_await queue->ReclaimExpired();
    EXPECT_TRUE(reclaimed.ok() && reclaimed->empty()) << "renewed: a lease of its own again";
    auto now = co_await queue->Get(job.id);
    EXPECT_EQ(now->status, BuildJobStatus::kRunning);
    EXPECT_EQ(now->builder, "b1");
    EXPECT_EQ(now->attempt, 1);
    EXPECT_GT(now->lease_until.value_or(TimePoint{}), job.lease_until.value_or(TimePoint{}));
  });
}

TEST_F(PgBuildQueueTest, ACancelledJobIsNotClaimedAndItsBuilderIsToldAtItsNextRenewal) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const BuildJobSpec first = Spec(1), second = Spec(2);
    auto running_id = co_await queue->Enqueue(first);
    auto queued_id = co_await queue->Enqueue(second);
    const std::string b1 = "b1";
    const Labels labels;
    auto claimed = co_await queue->Claim(b1, labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value() && (*claimed)->id == *running_id);
    if (!queued_id.ok() || !running_id.ok()) co_return;

    const std::string superseded = "superseded by deployment 9";
    auto cancelled = co_await queue->Cancel(*queued_id, superseded);
    EXPECT_TRUE(cancelled.ok()) << cancelled.message();
    auto nothing = co_await queue->Claim(b1, labels);
    EXPECT_TRUE(nothing.ok() && !nothing->has_value()) << "a cancelled job is not claimed";
    auto queued = co_await queue->Get(*queued_id);
    EXPECT_EQ(queued->status, BuildJobStatus::kCancelled);
    EXPECT_EQ(queued->error, superseded);

    const std::string by_hand = "cancelled by alice";
    auto stopped = co_await queue->Cancel(*running_id, by_hand);
    EXPECT_TRUE(stopped.ok()) << stopped.message();
    auto renewed = co_await queue->Renew(*running_id, b1, 1);
    EXPECT_EQ(renewed.code(), StatusCode::kConflict);
    EXPECT_EQ(renewed.message(),
              "build queue: renew build job 1: attempt 1 on b1 no longer "
              "holds it: it was cancelled");
    const BuildOutcome built = BuildOutcome::Succeeded("k", "s", 1, "r");
    auto finished = co_await queue->Finish(*running_id, b1, 1, built);
    EXPECT_EQ(finished.code(), StatusCode::kConflict);
    auto running = co_await queue->Get(*running_id);
    EXPECT_EQ(running->status, BuildJobStatus::kCancelled);
    EXPECT_EQ(running->error, by_hand) << "the late outcome is dropped";

    auto twice = co_await queue->Cancel(*running_id, by_hand);
    EXPECT_EQ(twice.code(), StatusCode::kConflict);
    EXPECT_EQ(twice.message(), "build queue: cancel build job 1: it was cancelled");
    auto missing = co_await queue->Cancel(42, by_hand);
    EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  });
}

TEST_F(PgBuildQueueTest, IdleWaitersWakeOnNotificationsNotOnTheirTimeLimit) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  PgJobListener listener(io_.get_executor(), conninfo_);
  listener.Start();
  ASSERT_TRUE(RunUntil([&] { return listener.listening(); })) << listener.last_error().message();

  // Nothing queued: the wait ends at its limit, and says so.
  Run([&]() -> asio::awaitable<void> {
    const Duration short_wait(200);
    const bool woken = co_await listener.WaitForWork(short_wait);
    EXPECT_FALSE(woken);
  });

  // Two idle builders wait; a job is queued by another process.
  const Duration max_wait(25000);
  std::optional<bool> first, second;
  auto wait_into = [&](std::optional<bool>* out) -> asio::awaitable<void> {
    *out = co_await listener.WaitForWork(max_wait);
  };
  asio::co_spawn(io_, wait_into(&first), asio::detached);
  asio::co_spawn(io_, wait_into(&second), asio::detached);
  int64_t job_id = 0;
  Run([&]() -> asio::awaitable<void> {
    const BuildJobSpec spec = Spec(1);
    auto id = co_await queue->Enqueue(spec);
    job_id = id.ok() ? *id : 0;
  });
  ASSERT_TRUE(RunUntil([&] { return first && second; }));
  EXPECT_TRUE(*first && *second) << "both woken by the notification";

  // The orchestrator waits for the job's end.
  std::optional<bool> done;
  asio::co_spawn(
      io_, [&]() -> asio::awaitable<void> { done = co_await listener.WaitDone(job_id, max_wait); },
      asio::detached);
  Run([&]() -> asio::awaitable<void> {
    const std::string b1 = "b1";
    const Labels labels;
    auto claimed = co_await queue->Claim(b1, labels);
    const BuildOutcome failed = BuildOutcome::Failed("exit 2");
    auto finished = co_await queue->Finish(job_id, b1, 1, failed);
    EXPECT_TRUE(claimed.ok() && finished.ok()) << finished.message();
  });
  ASSERT_TRUE(RunUntil([&] { return done.has_value(); }));
  EXPECT_TRUE(*done);
  // An end heard before the wait began is not waited for.
  Run([&]() -> asio::awaitable<void> {
    const bool again = co_await listener.WaitDone(job_id, max_wait);
    EXPECT_TRUE(again);
  });

  // A job queued while no one waits is kept for the next wait: the builder
  // was busy claiming, and must not sleep through it.
  Run([&]() -> asio::awaitable<void> {
    const BuildJobSpec spec = Spec(2);
    auto id = co_await queue->Enqueue(spec);
    EXPECT_TRUE(id.ok());
  });
  Run([&]() -> asio::awaitable<void> {
    const bool woken = co_await listener.WaitForWork(max_wait);
    EXPECT_TRUE(woken);
    const Duration short_wait(200);
    const bool nothing_more = co_await listener.WaitForWork(short_wait);
    EXPECT_FALSE(nothing_more) << "one notification, one wake-up";
  });

  // Its session ends: it listens again, and since it may have missed
  // something meanwhile, the next wait returns at once.
  Run([&]() -> asio::awaitable<void> {
    auto ended = co_await Sql(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'");
    EXPECT_EQ(ended.rows.size(), 1u);
  });
  ASSERT_TRUE(RunUntil([&] { return listener.listens() == 2 && listener.listening(); }));
  Run([&]() -> asio::awaitable<void> {
    const bool woken = co_await listener.WaitForWork(max_wait);
    EXPECT_TRUE(woken);
  });
  listener.Stop();
}

// Each commit is built once: an orchestrator about to queue a build finds
// the job that builds or built the same thing (queued, running, or
// succeeded with its artifact kept), whichever deployment, ref, version or
// labels it was queued with; a failed or cancelled one is built again.
TEST_F(PgBuildQueueTest, AJobBuildingOrHavingBuiltTheSameCommitIsFoundForReuse) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    // The same build, asked for by another orchestrator's deployment.
    BuildJobSpec same = Spec(90, {"gpu"});
    same.ref = "refs/tags/v1.0";
    same.version = "v1.0";
    same.repo = "/srv/mirror/hello.git";
    same.timeout = Duration(1000);
    auto none_yet = co_await queue->FindReusable(same);
    EXPECT_TRUE(none_yet.ok() && !none_yet->has_value()) << none_yet.error();

    const BuildJobSpec first = Spec(1);
    auto id = co_await queue->Enqueue(first);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) co_return;
    auto queued = co_await queue->FindReusable(same);
    EXPECT_TRUE(queued.ok() && queued->has_value()) << queued.error();
    if (!queued.ok() || !queued->has_value()) co_return;
    EXPECT_EQ((*queued)->id, *id);
    EXPECT_EQ((*queued)->status, BuildJobStatus::kQueued);
    EXPECT_EQ((*queued)->spec.deployment_id, 1) << "the job as it was queued";

    const std::string b1 = "b1";
    const Labels labels;
    auto claimed = co_await queue->Claim(b1, labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value());
    auto running = co_await queue->FindReusable(same);
    EXPECT_TRUE(running.ok() && running->has_value() && (*running)->id == *id &&
                (*running)->status == BuildJobStatus::kRunning)
        << "the orchestrator that queued it may be gone; the build goes on";

    // Whatever changes what is built is another build.
    const std::vector<std::pair<std::string, std::function<void(BuildJobSpec&)>>> others = {
        {"project", [](BuildJobSpec& s) { s.project = "other"; }},
        {"commit", [](BuildJobSpec& s) { s.commit = std::string(40, '3'); }},
        {"build", [](BuildJobSpec& s) { s.build = "make all"; }},
        {"test", [](BuildJobSpec& s) { s.test = ""; }},
        {"artifacts",
         [](BuildJobSpec& s) {
           s.artifacts = {"bin/hello", "bin/helper"};
         }},
        {"no artifacts", [](BuildJobSpec& s) { s.artifacts.clear(); }},
        {"env", [](BuildJobSpec& s) { s.env = {"CC=clang"}; }},
        {"env order",
         [](BuildJobSpec& s) {
           s.env = {"CFLAGS=-O2", "CC=gcc"};
         }},
    };
    for (const auto& entry : others) {
      BuildJobSpec other = same;
      entry.second(other);
      auto found = co_await queue->FindReusable(other);
      EXPECT_TRUE(found.ok() && !found->has_value()) << "another " << entry.first;
    }

    const BuildOutcome failed = BuildOutcome::Failed("build failed (exit 2)");
    auto finished = co_await queue->Finish(*id, b1, 1, failed);
    EXPECT_TRUE(finished.ok()) << finished.message();
    auto after_failure = co_await queue->FindReusable(same);
    EXPECT_TRUE(after_failure.ok() && !after_failure->has_value())
        << "a failed build is not reused";

    const BuildJobSpec second = Spec(2);
    auto cancelled_id = co_await queue->Enqueue(second);
    EXPECT_TRUE(cancelled_id.ok()) << cancelled_id.error();
    if (!cancelled_id.ok()) co_return;
    const std::string superseded = "superseded";
    auto cancelled = co_await queue->Cancel(*cancelled_id, superseded);
    EXPECT_TRUE(cancelled.ok()) << cancelled.message();
    auto after_cancel = co_await queue->FindReusable(same);
    EXPECT_TRUE(after_cancel.ok() && !after_cancel->has_value()) << "nor a cancelled one";

    const BuildOutcome nothing_kept = BuildOutcome::Succeeded("", "", 0, "r0");
    const BuildJobSpec third = Spec(3), fourth = Spec(4);
    const int64_t without = co_await Built(*queue, third, nothing_kept);
    EXPECT_GT(without, 0);
    auto no_artifact = co_await queue->FindReusable(same);
    EXPECT_TRUE(no_artifact.ok() && !no_artifact->has_value()) << "nothing to download";

    const BuildOutcome built =
        BuildOutcome::Succeeded("hello/main-22222222.tar.zst", std::string(64, 'a'), 12345, "r1");
    const int64_t succeeded = co_await Built(*queue, fourth, built);
    auto done = co_await queue->FindReusable(same);
    EXPECT_TRUE(done.ok() && done->has_value()) << done.error();
    if (!done.ok() || !done->has_value()) co_return;
    EXPECT_EQ((*done)->id, succeeded);
    EXPECT_EQ((*done)->status, BuildJobStatus::kSucceeded);
    EXPECT_EQ((*done)->artifact_key, "hello/main-22222222.tar.zst");
    EXPECT_EQ((*done)->artifact_sha256, std::string(64, 'a'));
    EXPECT_EQ((*done)->artifact_size, 12345);
    EXPECT_EQ((*done)->release, "r1");

    // Queued again by hand: the newest is the one to wait for.
    const BuildJobSpec again = Spec(5);
    auto newest = co_await queue->Enqueue(again);
    auto found = co_await queue->FindReusable(same);
    EXPECT_TRUE(newest.ok() && found.ok() && found->has_value() && (*found)->id == *newest);

    BuildJobSpec no_commit = same;
    no_commit.commit.clear();
    auto refused = co_await queue->FindReusable(no_commit);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  });
}

// What pruning looks at: a project's kept artifacts, the newest finished
// first, whatever order they were queued in.
TEST_F(PgBuildQueueTest, AProjectsArtifactsAreListedNewestFinishedFirst) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const BuildOutcome a =
        BuildOutcome::Succeeded("hello/a.tar.zst", std::string(64, 'a'), 1, "ra");
    const BuildOutcome b =
        BuildOutcome::Succeeded("hello/b.tar.zst", std::string(64, 'b'), 2, "rb");
    const BuildOutcome c =
        BuildOutcome::Succeeded("hello/c.tar.zst", std::string(64, 'c'), 3, "rc");
    const BuildOutcome failed = BuildOutcome::Failed("exit 1");
    const BuildOutcome nothing_kept = BuildOutcome::Succeeded("", "", 0, "r0");
    const BuildOutcome elsewhere =
        BuildOutcome::Succeeded("other/x.tar.zst", std::string(64, 'e'), 5, "rx");
    const BuildJobSpec s1 = Spec(1), s2 = Spec(2), s3 = Spec(3), s4 = Spec(4), s5 = Spec(5);
    const int64_t id_a = co_await Built(*queue, s1, a);
    const int64_t id_b = co_await Built(*queue, s2, b);
    const int64_t id_c = co_await Built(*queue, s3, c);
    co_await Built(*queue, s4, failed);
    co_await Built(*queue, s5, nothing_kept);
    BuildJobSpec other = Spec(6);
    other.project = "other";
    co_await Built(*queue, other, elsewhere);
    const BuildJobSpec open = Spec(7);
    auto queued = co_await queue->Enqueue(open);
    EXPECT_TRUE(queued.ok());
    // Finished in the order b, c, a (by the server's clock); c and a at the
    // same millisecond, where the newer job comes first.
    const PgParams ids_abc = {std::to_string(id_a), std::to_string(id_b), std::to_string(id_c)};
    auto timed = co_await Sql(
        "UPDATE build_jobs SET finished_at = CASE id WHEN $1::bigint THEN 3000 WHEN $2::bigint "
        "THEN 1000 ELSE 3000 END WHERE id IN ($1, $2, $3)",
        ids_abc);
    EXPECT_EQ(timed.affected_rows, 3);

    const std::string hello = "hello";
    auto listed = co_await queue->ListArtifacts(hello);
    EXPECT_TRUE(listed.ok()) << listed.error();
    if (!listed.ok()) co_return;
    std::vector<int64_t> ids;
    for (const auto& job : *listed) ids.push_back(job.id);
    EXPECT_EQ(ids, (std::vector<int64_t>{id_c, id_a, id_b}));
    if (listed->size() == 3u) {
      EXPECT_EQ(listed->at(0).artifact_key, "hello/c.tar.zst");
      EXPECT_EQ(listed->at(0).artifact_sha256, std::string(64, 'c'));
      EXPECT_EQ(listed->at(0).artifact_size, 3);
      EXPECT_EQ(listed->at(0).release, "rc");
      EXPECT_EQ(listed->at(2).finished_at, FromUnixMillis(1000));
    }
    const std::string other_project = "other";
    auto others = co_await queue->ListArtifacts(other_project);
    EXPECT_TRUE(others.ok() && others->size() == 1u && others->at(0).spec.project == "other");
    const std::string nobody = "nobody";
    auto none = co_await queue->ListArtifacts(nobody);
    EXPECT_TRUE(none.ok() && none->empty());
  });
}

// The pruner removed an artifact: the job says so, and is neither listed
// nor reused; the next deployment of that commit builds it again.
TEST_F(PgBuildQueueTest, APrunedArtifactIsForgottenSoItsCommitIsBuiltAgain) {
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const BuildOutcome built =
        BuildOutcome::Succeeded("hello/main-22222222.tar.zst", std::string(64, 'a'), 12345, "r1");
    const BuildJobSpec first = Spec(1), next = Spec(2);
    const int64_t id = co_await Built(*queue, first, built);
    auto reusable = co_await queue->FindReusable(next);
    EXPECT_TRUE(reusable.ok() && reusable->has_value() && (*reusable)->id == id);

    auto forgotten = co_await queue->ForgetArtifact(id);
    EXPECT_TRUE(forgotten.ok()) << forgotten.message();
    auto job = co_await queue->Get(id);
    EXPECT_TRUE(job.ok()) << job.error();
    if (!job.ok()) co_return;
    EXPECT_EQ(job->artifact_key, "");
    EXPECT_EQ(job->artifact_sha256, "");
    EXPECT_EQ(job->artifact_size, 0);
    EXPECT_EQ(job->status, BuildJobStatus::kSucceeded) << "the job stays as history";
    EXPECT_EQ(job->release, "r1");
    EXPECT_EQ(job->builder, "b1");
    const std::string hello = "hello";
    auto listed = co_await queue->ListArtifacts(hello);
    EXPECT_TRUE(listed.ok() && listed->empty());
    auto gone = co_await queue->FindReusable(next);
    EXPECT_TRUE(gone.ok() && !gone->has_value()) << "nothing left to download";
    auto twice = co_await queue->ForgetArtifact(id);
    EXPECT_TRUE(twice.ok()) << twice.message();

    auto rebuilt = co_await queue->Enqueue(next);
    auto found = co_await queue->FindReusable(next);
    EXPECT_TRUE(rebuilt.ok() && found.ok() && found->has_value() && (*found)->id == *rebuilt);

    const int64_t no_such_job = 42;
    auto missing = co_await queue->ForgetArtifact(no_such_job);
    EXPECT_EQ(missing.code(), StatusCode::kNotFound);
    EXPECT_EQ(missing.message(), "build queue: no build job 42");
  });
}

// Bytes from outside (a ref, an error, an env value) are stored as text can
// hold them (U+FFFD), and list items keep their commas, quotes and braces.
TEST_F(PgBuildQueueTest, BytesThatAreNotUtf8AreStoredAndListItemsKeepTheirPunctuation) {
  const std::string kFffd = "\xEF\xBF\xBD";
  QueuePtr queue = Open();
  ASSERT_NE(queue, nullptr);
  Run([&]() -> asio::awaitable<void> {
    BuildJobSpec spec = Spec(1, {"caf\xe9", "x86_64"});
    spec.ref = "refs/heads/f\xff";
    spec.env = {"A=1,2", "B=\"q\"", "C=a\\b", "D={x}", "NULL", "", " spaced ", "E=\xfe"};
    spec.artifacts = {"my dir/out", "{braces}"};
    auto id = co_await queue->Enqueue(spec);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) co_return;
    // The same bytes on the builder's side match the job's.
    const std::string b1 = "b1";
    const Labels labels = {"x86_64", "caf\xe9"};
    auto claimed = co_await queue->Claim(b1, labels);
    EXPECT_TRUE(claimed.ok() && claimed->has_value()) << claimed.error();
    if (!claimed.ok() || !claimed->has_value()) co_return;
    const BuildJobSpec& got = (*claimed)->spec;
    EXPECT_EQ(got.ref, "refs/heads/f" + kFffd);
    EXPECT_EQ(got.labels, (Labels{"caf" + kFffd, "x86_64"}));
    EXPECT_EQ(got.env, (Labels{"A=1,2", "B=\"q\"", "C=a\\b", "D={x}", "NULL", "", " spaced ",
                               "E=" + kFffd}));
    EXPECT_EQ(got.artifacts, (Labels{"my dir/out", "{braces}"}));

    const BuildOutcome failed = BuildOutcome::Failed(std::string("exit 2: \xff\0tail", 14));
    auto finished = co_await queue->Finish(*id, b1, 1, failed);
    EXPECT_TRUE(finished.ok()) << finished.message();
    auto job = co_await queue->Get(*id);
    EXPECT_EQ(job->status, BuildJobStatus::kFailed);
    EXPECT_EQ(job->error, "exit 2: " + kFffd + kFffd + "tail");
  });
}

}  // namespace
}  // namespace anthill::store
