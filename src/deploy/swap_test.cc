// The swap with real parts: real releases on disk, real child processes
// (sleep), a real command health check, a real SQLite store.
#include "deploy/swap.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "store/store.h"
#include "testing/testing.h"

namespace anthill::deploy {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// Records steps in memory, in order, to check which steps a swap took.
class FakeSteps : public StepSink {
 public:
  int64_t Started(int64_t, store::StepName name) override {
    names.emplace_back(store::ToString(name));
    return static_cast<int64_t>(names.size());
  }
  void Ended(int64_t id, store::StepStatus status, std::string_view) override {
    ends.emplace_back(names[static_cast<size_t>(id - 1)], status);
  }
  std::vector<std::string> names;
  std::vector<std::pair<std::string, store::StepStatus>> ends;
};

class SwapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqlite(dir_ / "anthill.db", "m1");
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
    releases_ = std::make_unique<release::Releases>(dir_ / "projects" / "hello");
    spec_.project = "hello";
    spec_.run = "sleep 300";
    spec_.stop_timeout = Duration(2000);
    spec_.health.kind = config::HealthCheck::Kind::kCommand;
    spec_.health.target = "test -f healthy";  // in the release dir
    spec_.health.timeout = Duration(1500);
    spec_.health.interval = Duration(50);
    spec_.health.watch = Duration(0);
    spec_.app_log = dir_ / "logs" / "app" / "hello.log";
    spec_.project_dir = releases_->project_dir();
    spec_.releases_dir = releases_->releases_dir();
    spec_.notify_socket = dir_ / "run" / "hello.notify";
  }
  void TearDown() override { testing::KillProcessesUnder(dir_.path()); }

  // A release whose program passes its check, or not.
  supervise::Deployed MakeRelease(char commit_char, bool healthy) {
    const fs::path ws = dir_ / ("ws-" + std::string(1, commit_char));
    fs::create_directories(ws);
    if (healthy) testing::WriteFile(ws / "healthy", "yes\n");
    const std::string commit(40, commit_char);
    auto made = releases_->Create(ws, {}, Now(), commit);
    EXPECT_TRUE(made.ok()) << made.error();
    supervise::Deployed d;
    d.release = *made;
    d.dir = releases_->PathOf(*made);
    d.version = "main-" + commit.substr(0, 8);
    d.commit = commit;
    d.ref = "refs/heads/main";
    d.env = {"PATH=/usr/bin:/bin", "ANTHILL_PROJECT=hello"};
    return d;
  }

  template <typename F>
  auto RunOnLoop(F f) {
    auto future = asio::co_spawn(io_, f, asio::use_future);
    io_.restart();
    while (future.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      io_.run_one_for(std::chrono::milliseconds(100));
    }
    return future.get();
  }

  Status SwapIn(supervise::Supervisor& sup, const supervise::Deployed& to, bool zero_downtime,
                Status* back = nullptr, bool* old_stopped = nullptr) {
    return RunOnLoop([&]() -> asio::awaitable<Status> {
      SwapPlan plan{1, to, false, zero_downtime};
      Swap swap(&sup, releases_.get(), &steps_, "hello", plan);
      Status in = co_await swap.In();
      if (!in.ok() && back != nullptr) *back = co_await swap.Back();
      if (old_stopped != nullptr) *old_stopped = swap.old_stopped();
      co_return in;
    });
  }

  testing::TempDir dir_;
  asio::io_context io_;
  std::unique_ptr<store::LocalStore> store_;
  std::unique_ptr<release::Releases> releases_;
  supervise::ProgramSpec spec_;
  FakeSteps steps_;
};

TEST_F(SwapTest, AFailedCheckStopsTheNewOneAndStartsTheOldOneAgain) {
  supervise::Supervisor sup(io_.get_executor(), spec_, store_.get());
  const supervise::Deployed good = MakeRelease('a', true);
  const supervise::Deployed bad = MakeRelease('b', false);
  ASSERT_TRUE(SwapIn(sup, good, false).ok());
  EXPECT_EQ(steps_.names, (std::vector<std::string>{"start", "healthcheck"}));
  const pid_t first = sup.running().program->pid();

  Status back;
  bool old_stopped = false;
  Status in = SwapIn(sup, bad, false, &back, &old_stopped);
  EXPECT_FALSE(in.ok());
  EXPECT_EQ(in.message().rfind("health check failed after ", 0), 0u) << in.message();
  EXPECT_TRUE(back.ok()) << back.message();
  EXPECT_TRUE(old_stopped);
  EXPECT_EQ(sup.running().what.release, good.release);
  ASSERT_TRUE(sup.running().alive());
  EXPECT_NE(sup.running().program->pid(), first) << "stopped, then started again";
  EXPECT_EQ(sup.running().health, supervise::Health::kHealthy);
  EXPECT_EQ(releases_->Current(), good.release);
  auto recorded = store_->GetProcess("hello");
  ASSERT_TRUE(recorded.ok() && recorded->has_value());
  EXPECT_EQ((*recorded)->release, good.release);
  auto candidate = store_->GetCandidate("hello");
  ASSERT_TRUE(candidate.ok());
  EXPECT_FALSE(candidate->has_value()) << "the failed one is no candidate any more";
  EXPECT_EQ(steps_.names, (std::vector<std::string>{"start", "healthcheck", "stop", "start",
                                                    "healthcheck", "rollback"}));
}

TEST_F(SwapTest, WithoutDowntimeAFailedCheckLeavesTheOldProgramServingUntouched) {
  spec_.listen = {"tcp://127.0.0.1:" + std::to_string(testing::FreePort())};
  supervise::Supervisor sup(io_.get_executor(), spec_, store_.get());
  const supervise::Deployed good = MakeRelease('a', true);
  const supervise::Deployed bad = MakeRelease('b', false);
  ASSERT_TRUE(SwapIn(sup, good, true).ok());
  const pid_t serving = sup.running().program->pid();

  Status back;
  bool old_stopped = true;
  EXPECT_FALSE(SwapIn(sup, bad, true, &back, &old_stopped).ok());
  EXPECT_TRUE(back.ok()) << back.message();
  EXPECT_FALSE(old_stopped) << "the old one never stopped";
  ASSERT_TRUE(sup.running().alive());
  EXPECT_EQ(sup.running().program->pid(), serving);
  EXPECT_EQ(sup.running().what.release, good.release);
  EXPECT_EQ(releases_->Current(), good.release);
  auto recorded = store_->GetProcess("hello");
  ASSERT_TRUE(recorded.ok() && recorded->has_value());
  EXPECT_EQ((*recorded)->pid, serving);
}

TEST_F(SwapTest, WithNothingToGoBackToTheRollbackSaysSo) {
  supervise::Supervisor sup(io_.get_executor(), spec_, store_.get());
  Status back;
  EXPECT_FALSE(SwapIn(sup, MakeRelease('b', false), false, &back).ok());
  EXPECT_EQ(back.message(), "no previous release to roll back to");
  EXPECT_FALSE(sup.running().alive());
  auto recorded = store_->GetProcess("hello");
  ASSERT_TRUE(recorded.ok());
  EXPECT_FALSE(recorded->has_value());
}

}  // namespace
}  // namespace anthill::deploy
