// The Store of a process whose record is in PostgreSQL: writes answered at
// once and made in order, reads that see them, ids that two processes never
// share, a server that goes away and comes back, changes heard across
// processes, and this machine's state kept in its own file.
#include "store/pg_store.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <set>

#include "store/pg_connection.h"
#include "testing/postgres.h"
#include "testing/testing.h"

namespace anthill::store {

testing::Postgres& SharedPostgres();  // record_contract_test.cc: one server per binary

namespace {

namespace asio = boost::asio;

Deployment Queued(const std::string& project) {
  Deployment d;
  d.project = project;
  d.machine = "m1";
  d.to_version = "main-22222222";
  d.to_commit = std::string(40, '2');
  d.trigger = Trigger::kPoll;
  d.status = DeploymentStatus::kQueued;
  d.started_at = FromUnixMillis(1795532458000);
  return d;
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Postgres& server = SharedPostgres();
    ASSERT_TRUE(server.ok()) << server.error();
    database_ = server.CreateDatabase();
    ASSERT_FALSE(database_.empty());
    conninfo_ = server.ConnectionString(database_);
  }
  void TearDown() override {
    for (auto& s : stores_) Run([&]() -> asio::awaitable<void> { co_await s->Close(); });
    stores_.clear();
  }

  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    io_.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
    return done();
  }
  void Run(std::function<asio::awaitable<void>()> body) {
    auto finished = std::make_shared<bool>(false);
    asio::co_spawn(
        io_,
        [body = std::move(body), finished]() -> asio::awaitable<void> {
          co_await body();
          *finished = true;
        },
        asio::detached);
    ASSERT_TRUE(RunUntil([&] { return *finished; })) << "the coroutine did not finish in 30 s";
  }
  // Opens a store (one "process") for machine m1 with its own machine file.
  Store& Open() {
    const std::filesystem::path file = dir_ / ("machine" + std::to_string(stores_.size()) + ".db");
    Run([&]() -> asio::awaitable<void> {
      auto executor = io_.get_executor();
      std::string conninfo = conninfo_;
      std::string machine = "m1";
      auto opened = co_await OpenPostgres(executor, conninfo, machine, file);
      EXPECT_TRUE(opened.ok()) << opened.error();
      if (opened.ok()) stores_.push_back(std::move(opened.value()));
    });
    return *stores_.back();
  }
  // One statement on a connection of the test's own, to `database`.
  void Sql(const std::string& statement, const std::string& database) {
    Run([&]() -> asio::awaitable<void> {
      auto executor = io_.get_executor();
      std::string conninfo = SharedPostgres().ConnectionString(database);
      auto conn = co_await PgConnection::Connect(executor, conninfo);
      EXPECT_TRUE(conn.ok()) << conn.error();
      if (!conn.ok()) co_return;
      std::string sql = statement;
      PgParams none;
      auto result = co_await (*conn)->Query(sql, none);
      EXPECT_TRUE(result.ok()) << sql << ": " << result.error();
    });
  }
  std::optional<Deployment> Read(Store& store, int64_t id) {
    std::optional<Deployment> out;
    Run([&]() -> asio::awaitable<void> {
      auto d = co_await store.async_record().GetDeployment(id);
      EXPECT_TRUE(d.ok()) << d.error();
      if (d.ok()) out = *d;
    });
    return out;
  }

  testing::TempDir dir_;
  asio::io_context io_;  // before the stores: they are destroyed first
  std::vector<std::unique_ptr<Store>> stores_;
  std::string database_;
  std::string conninfo_;
};

TEST_F(PgStoreTest, WritesAreAnsweredAtOnceAndAReadSeesEveryWriteBeforeIt) {
  Store& store = Open();
  // No loop runs between these calls: each is answered without the database.
  auto id = store.CreateDeployment(Queued("hello"));
  ASSERT_TRUE(id.ok()) << id.error();
  Deployment d = Queued("hello");
  d.id = *id;
  d.status = DeploymentStatus::kRunning;
  ASSERT_TRUE(store.UpdateDeployment(d).ok());
  auto step = store.StartStep(*id, StepName::kBuild, FromUnixMillis(1795532459000));
  ASSERT_TRUE(step.ok()) << step.error();
  ASSERT_TRUE(
      store.FinishStep(*step, StepStatus::kSucceeded, FromUnixMillis(1795532460000), "").ok());
  d.status = DeploymentStatus::kSucceeded;
  d.finished_at = FromUnixMillis(1795532461000);
  ASSERT_TRUE(store.UpdateDeployment(d).ok());
  ASSERT_TRUE(
      store.AddPin({"hello", std::string(40, 'f'), "failed in deployment 1", d.started_at}).ok());
  EXPECT_EQ(store.pending_writes(), 6u);

  auto read = Read(store, *id);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, DeploymentStatus::kSucceeded);
  ASSERT_EQ(read->steps.size(), 1u);
  EXPECT_EQ(read->steps[0].id, *step);
  EXPECT_EQ(read->steps[0].status, StepStatus::kSucceeded);
  EXPECT_EQ(store.pending_writes(), 0u);
  Run([&]() -> asio::awaitable<void> {
    std::string project = "hello";
    auto pins = co_await store.async_record().ListPins(project);
    EXPECT_TRUE(pins.ok()) << pins.error();
    if (!pins.ok()) co_return;
    EXPECT_EQ(pins->size(), 1u);
    if (pins->size() == 1) EXPECT_EQ((*pins)[0].reason, "failed in deployment 1");
  });
}

TEST_F(PgStoreTest, TwoProcessesNeverGiveTheSameIdAndEachReadsTheOthersRows) {
  Store& a = Open();
  Store& b = Open();
  std::set<int64_t> ids;
  for (int i = 0; i < 100; ++i) {  // more than one reserved block each
    auto x = a.CreateDeployment(Queued("a"));
    auto y = b.CreateDeployment(Queued("b"));
    ASSERT_TRUE(x.ok() && y.ok());
    ids.insert(*x);
    ids.insert(*y);
    ASSERT_TRUE(RunUntil([&] { return a.pending_writes() + b.pending_writes() == 0; }));
  }
  EXPECT_EQ(ids.size(), 200u);
  Run([&]() -> asio::awaitable<void> {
    DeploymentFilter f;
    f.limit = 1000;
    auto seen_by_a = co_await a.async_record().ListDeployments(f);
    EXPECT_TRUE(seen_by_a.ok()) << seen_by_a.error();
    if (!seen_by_a.ok()) co_return;
    EXPECT_EQ(seen_by_a->size(), 200u);
  });
}

TEST_F(PgStoreTest, WritesKeptWhileTheDatabaseRefusesConnectionsAreMadeInOrderAfterwards) {
  Store& store = Open();
  auto id = store.CreateDeployment(Queued("hello"));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(RunUntil([&] { return store.pending_writes() == 0; }));
  // Nobody may connect, and the store's connections are cut.
  Sql("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS false", "postgres");
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + database_ + "'",
      "postgres");
  Deployment d = Queued("hello");
  d.id = *id;
  for (auto status : {DeploymentStatus::kRunning, DeploymentStatus::kFailed}) {
    d.status = status;
    ASSERT_TRUE(store.UpdateDeployment(d).ok()) << "answered at once, database or not";
  }
  // The writer tries, fails and keeps them, in order (the loop runs a
  // while: whatever the timing, nothing can be made).
  io_.restart();
  io_.run_for(std::chrono::milliseconds(300));
  EXPECT_EQ(store.pending_writes(), 2u);
  // A read does not wait for writes that cannot be made: it answers (that
  // the database is unavailable) while they are still kept.
  Run([&]() -> asio::awaitable<void> {
    const int64_t wanted = *id;
    auto read = co_await store.async_record().GetDeployment(wanted);
    EXPECT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), StatusCode::kUnavailable) << read.error();
    EXPECT_EQ(store.pending_writes(), 2u) << "answered before the writes were made";
  });
  Sql("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS true", "postgres");
  ASSERT_TRUE(RunUntil([&] { return store.pending_writes() == 0; }));
  auto read = Read(store, *id);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, DeploymentStatus::kFailed) << "the last write is the last made";
}

TEST_F(PgStoreTest, AChangeMadeByOneProcessReachesTheOthersFeed) {
  Store& a = Open();
  Store& b = Open();
  std::vector<int64_t> heard;
  auto sub = b.changes().Subscribe([&](const Change& c) {
    if (c.kind == Change::Kind::kDeployment) heard.push_back(c.deployment_id);
  });
  // The listener is up once a change of b's own comes back through it.
  auto own = b.CreateDeployment(Queued("b"));
  ASSERT_TRUE(own.ok());
  ASSERT_TRUE(RunUntil([&] { return std::count(heard.begin(), heard.end(), *own) >= 2; }))
      << "b hears its own write when made and again from PostgreSQL";
  auto id = a.CreateDeployment(Queued("a"));
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(RunUntil([&] { return std::count(heard.begin(), heard.end(), *id) == 1; }));
}

TEST_F(PgStoreTest, ThisMachinesStateStaysInItsOwnFile) {
  Store& store = Open();
  Process p;
  p.project = "hello";
  p.pid = 1234;
  p.pgid = 1234;
  p.release = "r1";
  p.version = "main-22222222";
  p.commit = std::string(40, '2');
  p.started_at = FromUnixMillis(1795532458000);
  ASSERT_TRUE(store.PutProcess(p).ok());
  ASSERT_TRUE(store.SetHeld("hello", true).ok());
  auto local = OpenSqlite(dir_ / "machine0.db", "m1");
  ASSERT_TRUE(local.ok()) << local.error();
  auto got = (*local)->GetProcess("hello");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->pid, 1234);
  EXPECT_TRUE(*(*local)->IsHeld("hello"));
}

}  // namespace
}  // namespace anthill::store
