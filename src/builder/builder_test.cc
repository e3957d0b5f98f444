// The builder with real parts around a queue of its own: a real git
// repository, real build commands, real packing, a real SQLite record. The
// queue and the artifact store are in memory, so each test can decide what
// they answer (a lease taken back, a failing upload); the PostgreSQL queue
// has tests of its own (store/pg_build_queue_test.cc) and the e2e tests
// run both together.
#include "builder/builder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <map>

#include "artifact/pack.h"
#include "store/store.h"
#include "testing/testing.h"

namespace anthill::builder {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// A build queue in memory: jobs are claimed in order; a test may take a
// job back (Renew and Finish then answer kConflict, as PostgreSQL does).
class MemoryQueue : public store::BuildQueue {
 public:
  Awaitable<Result<int64_t>> Enqueue(store::BuildJobSpec spec) override {
    store::BuildJobRow row;
    row.id = static_cast<int64_t>(jobs.size()) + 1;
    row.spec = std::move(spec);
    jobs.push_back(row);
    co_return row.id;
  }
  Awaitable<Status> RegisterBuilder(store::BuilderInfo b) override {
    registered.push_back(b);
    co_return Status::Ok();
  }
  Awaitable<Status> Heartbeat(std::string) override { co_return Status::Ok(); }
  Awaitable<Result<std::optional<store::BuildJobRow>>> Claim(
      std::string builder, std::vector<std::string> labels) override {
    claim_labels = labels;
    for (auto& j : jobs) {
      if (j.status != store::BuildJobStatus::kQueued) continue;
      j.status = store::BuildJobStatus::kRunning;
      j.builder = builder;
      ++j.attempt;
      co_return std::optional<store::BuildJobRow>(j);
    }
    co_return std::optional<store::BuildJobRow>();
  }
  Awaitable<Status> Renew(int64_t id, std::string builder, int attempt) override {
    ++renewals;
    co_return Mine(id, builder, attempt);
  }
  Awaitable<Status> Finish(int64_t id, std::string builder, int attempt,
                           store::BuildOutcome outcome) override {
    Status s = Mine(id, builder, attempt);
    if (!s.ok()) co_return s;
    auto& j = jobs[static_cast<size_t>(id - 1)];
    j.status = outcome.status;
    j.error = outcome.error;
    j.artifact_key = outcome.artifact_key;
    j.artifact_sha256 = outcome.artifact_sha256;
    j.artifact_size = outcome.artifact_size;
    j.release = outcome.release;
    j.finished_at = Now();
    co_return Status::Ok();
  }
  Awaitable<Status> Cancel(int64_t id, std::string why) override {
    jobs[static_cast<size_t>(id - 1)].status = store::BuildJobStatus::kCancelled;
    co_return Status::Ok();
  }
  Awaitable<Result<std::vector<store::BuildJobRow>>> ReclaimExpired() override {
    co_return std::vector<store::BuildJobRow>{};
  }
  Awaitable<Result<store::BuildJobRow>> Get(int64_t id) override {
    co_return jobs[static_cast<size_t>(id - 1)];
  }
  Awaitable<Result<std::vector<store::BuildJobRow>>> JobsOfDeployment(int64_t id) override {
    std::vector<store::BuildJobRow> out;
    for (const auto& j : jobs) {
      if (j.spec.deployment_id == id) out.push_back(j);
    }
    co_return out;
  }
  Awaitable<Result<std::vector<store::QueuedJobView>>> ListOpen() override {
    co_return std::vector<store::QueuedJobView>{};
  }
  // As PostgreSQL answers them (build_queue.h).
  Awaitable<Result<std::optional<store::BuildJobRow>>> FindReusable(
      store::BuildJobSpec spec) override {
    if (spec.project.empty() || spec.commit.empty()) {
      co_return Status::InvalidArgument("a reusable build is found by its project and commit");
    }
    for (auto j = jobs.rbegin(); j != jobs.rend(); ++j) {  // newest first
      const store::BuildJobSpec& s = j->spec;
      if (s.project != spec.project || s.commit != spec.commit || s.build != spec.build ||
          s.test != spec.test || s.artifacts != spec.artifacts || s.env != spec.env) {
        continue;
      }
      if (!store::IsFinished(j->status) ||
          (j->status == store::BuildJobStatus::kSucceeded && !j->artifact_key.empty())) {
        co_return std::optional<store::BuildJobRow>(*j);
      }
    }
    co_return std::optional<store::BuildJobRow>();
  }
  Awaitable<Result<std::vector<store::BuildJobRow>>> ListArtifacts(std::string project) override {
    std::vector<store::BuildJobRow> out;
    for (const auto& j : jobs) {
      if (j.spec.project == project && j.status == store::BuildJobStatus::kSucceeded &&
          !j.artifact_key.empty()) {
        out.push_back(j);
      }
    }
    std::sort(out.begin(), out.end(), [](const store::BuildJobRow& a, const store::BuildJobRow& b) {
      if (a.finished_at != b.finished_at) return a.finished_at > b.finished_at;
      return a.id > b.id;
    });
    co_return out;
  }
  Awaitable<Status> ForgetArtifact(int64_t id) override {
    if (id < 1 || id > static_cast<int64_t>(jobs.size())) {
      co_return Status::NotFound("no build job " + std::to_string(id));
    }
    auto& j = jobs[static_cast<size_t>(id - 1)];
    j.artifact_key.clear();
    j.artifact_sha256.clear();
    j.artifact_size = 0;
    co_return Status::Ok();
  }

  // As ReclaimExpired does when the lease ran out: back in the queue.
  void TakeBack(int64_t id) {
    auto& j = jobs[static_cast<size_t>(id - 1)];
    j.status = store::BuildJobStatus::kQueued;
    j.builder.clear();
  }

  std::vector<store::BuildJobRow> jobs;
  std::vector<store::BuilderInfo> registered;
  std::vector<std::string> claim_labels;
  int renewals = 0;

 private:
  Status Mine(int64_t id, const std::string& builder, int attempt) const {
    const auto& j = jobs.at(static_cast<size_t>(id - 1));
    if (j.status != store::BuildJobStatus::kRunning || j.builder != builder ||
        j.attempt != attempt) {
      return Status::Error(StatusCode::kConflict, "no longer this attempt's");
    }
    return Status::Ok();
  }
};

// Artifacts as files in a directory, by key.
class DirArtifacts : public artifact::ArtifactStore {
 public:
  explicit DirArtifacts(fs::path root) : root_(std::move(root)) {}
  Awaitable<Status> Put(artifact::ArtifactRef ref, fs::path file) override {
    ++puts;
    if (!refuse.ok()) co_return refuse;
    if (away_for_puts > 0) {
      --away_for_puts;
      co_return Status::Unavailable("cannot reach the store: Connection refused");
    }
    fs::create_directories((root_ / ref.key).parent_path());
    fs::copy_file(file, root_ / ref.key, fs::copy_options::overwrite_existing);
    refs[ref.key] = ref;
    co_return Status::Ok();
  }
  Awaitable<Status> Get(artifact::ArtifactRef ref, fs::path dest) override {
    fs::copy_file(root_ / ref.key, dest);
    co_return Status::Ok();
  }
  Awaitable<Status> Remove(artifact::ArtifactRef ref) override {
    std::error_code ec;
    fs::remove(root_ / ref.key, ec);
    refs.erase(ref.key);
    co_return Status::Ok();
  }
  std::string Describe() const override { return "a test dir"; }
  fs::path PathOf(const std::string& key) const { return root_ / key; }
  std::map<std::string, artifact::ArtifactRef> refs;
  int puts = 0;           // tries, answered or not
  int away_for_puts = 0;  // the next puts answer Unavailable
  Status refuse;          // not ok: every put answers it

 private:
  fs::path root_;
};

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "record.db", "orchestrator-1");
    ASSERT_TRUE(s.ok()) << s.error();
    record_ = std::move(s.value());
    repo_ = dir_ / "repo";
    fs::create_directories(repo_);
    testing::Sh(repo_,
                "git init -q -b main . && git config user.email t@t && git config user.name t && "
                "printf 'echo built-$NAME > out.txt\\n' > build.sh && git add . && "
                "git commit -qm one");
    commit_ = testing::Sh(repo_, "git rev-parse HEAD");
    while (!commit_.empty() && commit_.back() == '\n') commit_.pop_back();
  }
  void TearDown() override { testing::KillProcessesUnder(dir_.path()); }

  // A deployment in the record and its job in the queue.
  void Queue(const std::string& build, const std::string& test = "") {
    store::Deployment d;
    d.project = "hello";
    d.machine = "orchestrator-1";
    d.to_commit = commit_;
    d.to_version = "main-" + commit_.substr(0, 8);
    d.ref = "refs/heads/main";
    d.status = store::DeploymentStatus::kRunning;
    d.started_at = Now();
    auto id = record_->CreateDeployment(d);
    ASSERT_TRUE(id.ok()) << id.error();
    store::BuildJobSpec spec;
    spec.deployment_id = *id;
    spec.project = "hello";
    spec.repo = repo_.string();
    spec.commit = commit_;
    spec.ref = "refs/heads/main";
    spec.version = d.to_version;
    spec.build = build;
    spec.test = test;
    spec.env = {"NAME=fleet"};
    spec.timeout = Duration(60000);
    deployment_id_ = *id;
    RunOnLoop([&]() -> asio::awaitable<void> { (void)co_await queue_.Enqueue(spec); });
  }

  void RunOnLoop(std::function<asio::awaitable<void>()> f) {
    bool done = false;
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          co_await f();
          done = true;
        },
        asio::detached);
    while (!done) {
      if (io_.stopped()) io_.restart();
      io_.run_one();
    }
  }

  // Runs the loop until `pred` holds (or the deadline).
  bool RunUntil(const std::function<bool()>& pred, Duration limit = Duration(60000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      // Out of work for a moment (between a test's own runs), the loop
      // stops itself: ready it again.
      if (io_.stopped()) io_.restart();
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return pred();
  }

  std::unique_ptr<Builder> MakeBuilder() {
    BuilderSettings s;
    s.info = {"builder-1", {"linux", "gpu"}, 1};
    s.machine = "build-box";
    s.data_dir = dir_ / "builder";
    s.renew_every = Duration(50);
    s.idle_wait = Duration(50);
    return std::make_unique<Builder>(io_.get_executor(), s, queue_, *record_, artifacts_,
                                     [](Duration d) -> asio::awaitable<bool> {
                                       co_await SleepFor(d);
                                       co_return false;
                                     });
  }

  void StopBuilder(Builder& b) {
    b.Shutdown();
    ASSERT_TRUE(RunUntil([&] { return b.done(); }));
  }

  std::vector<std::pair<std::string, store::StepStatus>> Steps() {
    auto d = record_->GetDeployment(deployment_id_);
    std::vector<std::pair<std::string, store::StepStatus>> out;
    if (!d.ok() || !d->has_value()) return out;
    for (const auto& s : (*d)->steps) out.emplace_back(store::ToString(s.name), s.status);
    return out;
  }

  testing::TempDir dir_;
  asio::io_context io_;
  std::unique_ptr<store::LocalStore> record_;
  MemoryQueue queue_;
  DirArtifacts artifacts_{dir_ / "artifacts"};
  fs::path repo_;
  std::string commit_;
  int64_t deployment_id_ = 0;
};

using S = store::StepStatus;

TEST_F(BuilderTest, BuildsPacksUploadsAndReports) {
  Queue("sh build.sh", "test -f out.txt");
  auto b = MakeBuilder();
  b->Start();
  ASSERT_TRUE(RunUntil([&] {
    return queue_.jobs[0].status != store::BuildJobStatus::kQueued &&
           queue_.jobs[0].status != store::BuildJobStatus::kRunning;
  }));
  StopBuilder(*b);
  const auto& job = queue_.jobs[0];
  ASSERT_EQ(job.status, store::BuildJobStatus::kSucceeded) << job.error;
  EXPECT_EQ(queue_.registered.at(0).name, "builder-1");
  EXPECT_EQ(queue_.claim_labels, (std::vector<std::string>{"linux", "gpu"}));
  EXPECT_EQ(job.artifact_key, "hello/main-" + commit_.substr(0, 8) + ".tar.zst");
  // What was reported is what the store holds.
  auto hashed = artifact::HashFile(artifacts_.PathOf(job.artifact_key));
  ASSERT_TRUE(hashed.ok()) << hashed.error();
  EXPECT_EQ(hashed->sha256, job.artifact_sha256);
  EXPECT_EQ(hashed->size, job.artifact_size);
  // ... and unpacks to the release the build made, with the job's env.
  const fs::path out = dir_ / "unpacked";
  ASSERT_TRUE(artifact::Unpack(artifacts_.PathOf(job.artifact_key), out).ok());
  EXPECT_EQ(testing::ReadFile(out / "out.txt"), "built-fleet\n");
  EXPECT_FALSE(job.release.empty());
  EXPECT_EQ(Steps(), (std::vector<std::pair<std::string, S>>{{"fetch", S::kSucceeded},
                                                             {"build", S::kSucceeded},
                                                             {"test", S::kSucceeded},
                                                             {"release", S::kSucceeded},
                                                             {"upload", S::kSucceeded}}));
  EXPECT_EQ(b->reported(), 1);
}

TEST_F(BuilderTest, AnUploadTheStoreCannotTakeNowIsTriedAgain) {
  Queue("sh build.sh", "test -f out.txt");
  artifacts_.away_for_puts = 2;  // e.g. the orchestrator restarting
  auto b = MakeBuilder();
  b->Start();
  ASSERT_TRUE(RunUntil([&] { return store::IsFinished(queue_.jobs[0].status); }));
  StopBuilder(*b);
  EXPECT_EQ(queue_.jobs[0].status, store::BuildJobStatus::kSucceeded) << queue_.jobs[0].error;
  EXPECT_EQ(artifacts_.puts, 3);
  EXPECT_EQ(artifacts_.refs.size(), 1u);
}

TEST_F(BuilderTest, AnUploadRefusedIsNotTriedAgain) {
  Queue("sh build.sh", "test -f out.txt");
  artifacts_.refuse = Status::Unauthenticated("answered 401: wrong token");
  auto b = MakeBuilder();
  b->Start();
  ASSERT_TRUE(RunUntil([&] { return store::IsFinished(queue_.jobs[0].status); }));
  StopBuilder(*b);
  EXPECT_EQ(queue_.jobs[0].status, store::BuildJobStatus::kFailed);
  EXPECT_NE(queue_.jobs[0].error.find("uploading the artifact failed: answered 401"),
            std::string::npos)
      << queue_.jobs[0].error;
  EXPECT_EQ(artifacts_.puts, 1);
}

TEST_F(BuilderTest, AFailedBuildIsReportedWithItsReason) {
  Queue("echo no >&2; exit 3");
  auto b = MakeBuilder();
  b->Start();
  ASSERT_TRUE(RunUntil([&] { return queue_.jobs[0].status == store::BuildJobStatus::kFailed; }));
  StopBuilder(*b);
  EXPECT_NE(queue_.jobs[0].error.find("build failed (exit 3)"), std::string::npos)
      << queue_.jobs[0].error;
  EXPECT_TRUE(artifacts_.refs.empty());
  EXPECT_EQ(Steps(), (std::vector<std::pair<std::string, S>>{{"fetch", S::kSucceeded},
                                                             {"build", S::kFailed}}));
}

TEST_F(BuilderTest, AJobTakenBackStopsItsBuildAndReportsNothing) {
  Queue("touch started; sleep 60");
  auto b = MakeBuilder();
  b->Start();
  const fs::path started =
      dir_ / "builder" / "builds" / "hello" / "slot-0" / "workspace" / "started";
  ASSERT_TRUE(RunUntil([&] { return fs::exists(started); }));
  // The lease "ran out" and the queue gave the job away: the next renewal
  // hears it, and the build is stopped long before its 60 s.
  queue_.TakeBack(1);
  ASSERT_TRUE(RunUntil([&] { return b->dropped() == 1; }, Duration(20000)));
  EXPECT_EQ(b->reported(), 0);
  EXPECT_EQ(b->running(), 0);
  StopBuilder(*b);
  EXPECT_EQ(Steps(), (std::vector<std::pair<std::string, S>>{{"fetch", S::kSucceeded},
                                                             {"build", S::kInterrupted}}));
}

TEST_F(BuilderTest, ShutdownStopsABuildAndLeavesTheJobToTheQueue) {
  Queue("touch started; sleep 60");
  auto b = MakeBuilder();
  b->Start();
  const fs::path started =
      dir_ / "builder" / "builds" / "hello" / "slot-0" / "workspace" / "started";
  ASSERT_TRUE(RunUntil([&] { return fs::exists(started); }));
  StopBuilder(*b);
  EXPECT_EQ(queue_.jobs[0].status, store::BuildJobStatus::kRunning);  // until its lease runs out
  EXPECT_EQ(b->reported(), 0);
  EXPECT_EQ(Steps(), (std::vector<std::pair<std::string, S>>{{"fetch", S::kSucceeded},
                                                             {"build", S::kInterrupted}}));
}

}  // namespace
}  // namespace anthill::builder
