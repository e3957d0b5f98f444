// What the PostgreSQL backend adds to the record's contract (which
// record_contract_test.cc checks on both backends): concurrent start-ups,
// bytes that are not UTF-8, changes heard across connections, a server
// that drops connections, reserved ids, and its pool. Against a real
// PostgreSQL 15 (testing::Postgres), a fresh database per test.
#include "store/pg_record_store.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "store/pg_change_listener.h"
#include "store/pg_loop_test.h"
#include "store/pg_schema.h"
#include "testing/postgres.h"
#include "testing/testing.h"

namespace anthill::store {

namespace {

namespace asio = boost::asio;
using Store = std::unique_ptr<PgRecordStore>;

Deployment Sample(const std::string& project) {
  Deployment d;
  d.project = project;
  d.machine = "m1";
  d.to_commit = std::string(40, '2');
  d.ref = "refs/heads/main";
  d.status = DeploymentStatus::kRunning;
  d.started_at = FromUnixMillis(1795532458123);
  return d;
}

std::string Describe(const Change& c) {  // "d42", "p:hello"
  return c.kind == Change::Kind::kDeployment ? "d" + std::to_string(c.deployment_id)
                                             : "p:" + c.project;
}

// Opens a store on an io_context of its own, as one thread or process of
// its own would, and says how that went.
Status OpenOnALoopOfItsOwn(const std::string& conninfo) {
  asio::io_context io;
  std::optional<Status> outcome;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto executor = io.get_executor();
        const std::string machine = "m1";
        auto store = co_await PgRecordStore::Open(executor, conninfo, machine);
        outcome = store.status();
      },
      asio::detached);
  io.run_for(std::chrono::seconds(30));
  return outcome.value_or(Status::TimedOut("did not finish within 30 s"));
}

class PgRecordStoreTest : public PgLoopTest {
 protected:
  asio::awaitable<Store> OpenStore() {
    auto executor = io_.get_executor();
    const std::string machine = "m1";
    auto opened = co_await PgRecordStore::Open(executor, conninfo_, machine);
    EXPECT_TRUE(opened.ok()) << opened.error();
    co_return opened.ok() ? std::move(*opened) : nullptr;
  }
  // Runs one statement on a connection of its own: the test's view of the
  // database, beside the store's. A string_view, so that a call with a
  // literal makes no std::string inside the caller's co_await (GCC 12).
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

  static inline const PgParams kNone;
};

// Without the migrations' lock both would create the same tables, and one
// would fail (or record a version twice).
TEST_F(PgRecordStoreTest, TwoOpensOfANewDatabaseAtOnceBothSucceedAndMigrateOnce) {
  std::optional<Result<Store>> first, second;
  auto open_into = [&](std::optional<Result<Store>>* out) -> asio::awaitable<void> {
    auto executor = io_.get_executor();
    const std::string machine = "m1";
    auto opened = co_await PgRecordStore::Open(executor, conninfo_, machine);
    out->emplace(std::move(opened));
  };
  asio::co_spawn(io_, open_into(&first), asio::detached);
  asio::co_spawn(io_, open_into(&second), asio::detached);
  ASSERT_TRUE(RunUntil([&] { return first && second; }));
  ASSERT_TRUE(first->ok()) << first->error();
  ASSERT_TRUE(second->ok()) << second->error();

  Run([&]() -> asio::awaitable<void> {
    auto versions = co_await Sql("SELECT version FROM schema_migrations ORDER BY version");
    EXPECT_EQ(versions.rows.size(), static_cast<size_t>(PgSchemaVersion()));
  });
}

TEST_F(PgRecordStoreTest, TwoOpensFromTwoThreadsEachWithItsOwnLoopBothSucceed) {
  Status a, b;
  std::thread one([&] { a = OpenOnALoopOfItsOwn(conninfo_); });
  std::thread two([&] { b = OpenOnALoopOfItsOwn(conninfo_); });
  one.join();
  two.join();
  EXPECT_TRUE(a.ok()) << a.message();
  EXPECT_TRUE(b.ok()) << b.message();
  Run([&]() -> asio::awaitable<void> {
    auto versions = co_await Sql("SELECT count(*) FROM schema_migrations");
    EXPECT_EQ(versions.rows.at(0).at(0), std::to_string(PgSchemaVersion()));
  });
}

// Issue 12's bytes (a tag "v9\xe9", an actor "%ff") must not fail a write:
// text columns take them as U+FFFD (pg_record_store.h); bodies stay exact.
TEST_F(PgRecordStoreTest, BytesThatAreNotUtf8OrZeroAreStoredAsReplacementCharacters) {
  const std::string kFffd = "\xEF\xBF\xBD";
  Run([&]() -> asio::awaitable<void> {
    Store store = co_await OpenStore();
    if (!store) co_return;
    Deployment d = Sample("h\xffllo");
    d.ref = "refs/tags/v9\xe9";
    d.actor = "%ff\xff\xfe";
    d.error = std::string("exit\0code", 9);
    d.release = "caf\xc3\xa9 \xe2\x98\x95";  // valid UTF-8 passes as it is
    auto made = co_await store->CreateDeployment(d);
    EXPECT_TRUE(made.ok()) << made.error();
    if (!made.ok()) co_return;
    const std::string step_error = "\xc3\x28 overlong \xc0\xaf";
    auto step = co_await store->StartStep(*made, StepName::kBuild, d.started_at);
    auto finished =
        co_await store->FinishStep(*step, StepStatus::kFailed, d.started_at, step_error);
    EXPECT_TRUE(finished.ok()) << finished.message();

    DeploymentFilter same_bytes;  // a filter by the same bytes finds it
    same_bytes.project = "h\xffllo";
    auto list = co_await store->ListDeployments(same_bytes);
    EXPECT_TRUE(list.ok() && list->size() == 1u) << list.error();
    if (!list.ok() || list->size() != 1u) co_return;
    const Deployment& g = list->front();
    EXPECT_EQ(g.project, "h" + kFffd + "llo");
    EXPECT_EQ(g.ref, "refs/tags/v9" + kFffd);
    EXPECT_EQ(g.actor, "%ff" + kFffd + kFffd);
    EXPECT_EQ(g.error, "exit" + kFffd + "code");
    EXPECT_EQ(g.release, "caf\xc3\xa9 \xe2\x98\x95");
    EXPECT_EQ(g.steps.at(0).error, kFffd + "( overlong " + kFffd + kFffd);

    HookEvent e;
    e.delivery_id = "id-\xff";
    e.pusher = std::string("a\0b", 3);
    e.body = std::string("{\"x\":\"\xff\xfe\"}\0tail", 15);
    auto hook = co_await store->RecordHookEvent(e);
    EXPECT_TRUE(hook.ok() && hook->has_value()) << hook.error();
    auto replay = co_await store->RecordHookEvent(e);
    EXPECT_TRUE(replay.ok() && !replay->has_value()) << "the same bytes are the same delivery";
    auto hooks = co_await store->ListHookEvents(10, 0);
    EXPECT_EQ(hooks->at(0).delivery_id, "id-" + kFffd);
    EXPECT_EQ(hooks->at(0).pusher, "a" + kFffd + "b");
    auto body = co_await Sql("SELECT body FROM hook_events");
    EXPECT_EQ(PgByteaFromHex(body.rows.at(0).at(0).value_or("")), e.body);

    const Pin pin{"hello", std::string(40, 'a'), "failed: \xff", FromUnixMillis(1)};
    auto pinned = co_await store->AddPin(pin);
    const std::string project = "hello";
    auto pins = co_await store->ListPins(project);
    EXPECT_EQ(pins->at(0).reason, "failed: " + kFffd);
  });
}

TEST_F(PgRecordStoreTest, AChangeThroughOneStoreReachesAListenerOnAnotherConnection) {
  ChangeFeed feed;
  std::vector<std::string> heard;
  auto subscription = feed.Subscribe([&](const Change& c) { heard.push_back(Describe(c)); });
  PgChangeListener listener(io_.get_executor(), conninfo_, feed);
  listener.Start();
  ASSERT_TRUE(RunUntil([&] { return listener.listening(); })) << listener.last_error().message();

  Store store;
  Run([&]() -> asio::awaitable<void> {
    store = co_await OpenStore();
    if (!store) co_return;
    Deployment d = Sample("hello");
    auto made = co_await store->CreateDeployment(d);
    d.id = made.ok() ? *made : 0;
    auto step = co_await store->StartStep(d.id, StepName::kBuild, d.started_at);
    const std::string none;
    auto finished = co_await store->FinishStep(*step, StepStatus::kSucceeded, d.started_at, none);
    d.status = DeploymentStatus::kSucceeded;
    auto updated = co_await store->UpdateDeployment(d);
    const Pin pin{"hello", std::string(40, 'a'), "failed", FromUnixMillis(1)};
    auto pinned = co_await store->AddPin(pin);
    EXPECT_TRUE(finished.ok() && updated.ok() && pinned.ok());
  });
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(RunUntil([&] { return heard.size() >= 5; })) << heard.size();
  EXPECT_EQ(heard, (std::vector<std::string>{"d1", "d1", "d1", "d1", "p:hello"}));

  // Its session ends (a server restart would do the same): it connects and
  // LISTENs again, and hears what comes after.
  Run([&]() -> asio::awaitable<void> {
    auto ended = co_await Sql(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND query LIKE 'LISTEN%'");
    EXPECT_EQ(ended.rows.size(), 1u);
  });
  ASSERT_TRUE(RunUntil([&] { return listener.listens() == 2 && listener.listening(); }));
  Run([&]() -> asio::awaitable<void> {
    const Deployment d = Sample("hello");
    auto made = co_await store->CreateDeployment(d);
    EXPECT_TRUE(made.ok()) << made.error();
  });
  ASSERT_TRUE(RunUntil([&] { return heard.size() >= 6; }));
  EXPECT_EQ(heard.back(), "d2");

  // Stopped, it publishes nothing: a second listener hears the next change
  // first.
  listener.Stop();
  std::vector<std::string> heard_by_other;
  ChangeFeed other_feed;
  auto other_subscription =
      other_feed.Subscribe([&](const Change& c) { heard_by_other.push_back(Describe(c)); });
  PgChangeListener other(io_.get_executor(), conninfo_, other_feed);
  other.Start();
  ASSERT_TRUE(RunUntil([&] { return other.listening(); }));
  Run([&]() -> asio::awaitable<void> {
    const Deployment d = Sample("hello");
    auto made = co_await store->CreateDeployment(d);
    EXPECT_TRUE(made.ok()) << made.error();
  });
  ASSERT_TRUE(RunUntil([&] { return !heard_by_other.empty(); }));
  EXPECT_EQ(heard_by_other, std::vector<std::string>{"d3"});
  EXPECT_EQ(heard.size(), 6u);
}

// The server ends the store's sessions (a restart, a failover, an admin):
// calls go on, on new connections.
TEST_F(PgRecordStoreTest, APoolSurvivesTheServerTerminatingItsBackends) {
  Store store;
  int64_t id = 0;
  Run([&]() -> asio::awaitable<void> {
    store = co_await OpenStore();
    if (!store) co_return;
    const Deployment d = Sample("hello");
    auto made = co_await store->CreateDeployment(d);
    EXPECT_TRUE(made.ok()) << made.error();
    id = made.ok() ? *made : 0;
    auto ended = co_await Sql(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    EXPECT_EQ(ended.rows.size(), 1u) << "the store's one idle connection";
    // An idle session's goodbye is read before its connection is lent.
    auto read = co_await store->GetDeployment(id);
    EXPECT_TRUE(read.ok() && read->has_value()) << read.error();
  });
  ASSERT_NE(store, nullptr);

  // A session ended in the middle of a statement fails that call alone.
  std::optional<Result<PgPool::Lease>> lease;
  Run([&]() -> asio::awaitable<void> { lease = co_await store->pool().Acquire(); });
  ASSERT_TRUE(lease && lease->ok());
  const int victim = (**lease)->backend_pid();
  std::optional<Result<PgResult>> cut;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        const std::string sleep = "SELECT pg_sleep(30)";
        const PgParams none;
        cut = co_await (**lease)->Query(sleep, none);
      },
      asio::detached);
  Run([&]() -> asio::awaitable<void> {
    const PgParams target = {std::to_string(victim)};
    auto killed = co_await Sql("SELECT pg_terminate_backend($1::int, 5000)", target);
    EXPECT_EQ(killed.rows.at(0).at(0), "t");
  });
  ASSERT_TRUE(RunUntil([&] { return cut.has_value(); }));
  EXPECT_EQ(cut->code(), StatusCode::kUnavailable) << cut->error();
  lease.reset();  // broken: the pool drops it

  Run([&]() -> asio::awaitable<void> {
    auto next = co_await store->pool().Acquire();
    EXPECT_TRUE(next.ok()) << next.error();
    EXPECT_NE(next.ok() ? (*next)->backend_pid() : victim, victim) << "a new session";
    auto after = co_await store->GetDeployment(id);
    EXPECT_TRUE(after.ok() && after->has_value()) << after.error();
  });
}

TEST_F(PgRecordStoreTest, ReservedIdsAreTheOnesCreateDeploymentAndStartStepWithIdUse) {
  Run([&]() -> asio::awaitable<void> {
    Store store = co_await OpenStore();
    if (!store) co_return;
    const int three = 3, two = 2, none = 0;
    auto ids = co_await store->ReserveDeploymentIds(three);
    EXPECT_TRUE(ids.ok()) << ids.error();
    EXPECT_EQ(*ids, (std::vector<int64_t>{1, 2, 3}));
    Deployment d = Sample("hello");
    d.id = (*ids)[1];
    auto named = co_await store->CreateDeployment(d);
    EXPECT_EQ(*named, 2);
    d.id = 0;  // the database gives the next one, past every reserved id
    auto given = co_await store->CreateDeployment(d);
    EXPECT_EQ(*given, 4);

    auto step_ids = co_await store->ReserveStepIds(two);
    EXPECT_EQ(*step_ids, (std::vector<int64_t>{1, 2}));
    const int64_t step_id = (*step_ids)[1];
    auto step = co_await store->StartStepWithId(step_id, *named, StepName::kFetch, d.started_at);
    EXPECT_EQ(*step, 2);
    auto got = co_await store->GetDeployment(*named);
    EXPECT_EQ((*got)->steps.at(0).id, 2);
    auto refused = co_await store->ReserveStepIds(none);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  });
}

TEST_F(PgRecordStoreTest, APoolLendsAtMostItsSizeAndServesWaitersInTurn) {
  PgPool pool(io_.get_executor(), conninfo_, 2);
  std::optional<Result<PgPool::Lease>> a, b;
  Run([&]() -> asio::awaitable<void> {
    a = co_await pool.Acquire();
    b = co_await pool.Acquire();
  });
  ASSERT_TRUE(a && a->ok() && b && b->ok());
  const int a_pid = (**a)->backend_pid();
  EXPECT_NE(a_pid, (**b)->backend_pid());

  std::vector<std::string> served;
  std::vector<int> pids;
  auto wait_turn = [&](std::string name) -> asio::awaitable<void> {
    auto lease = co_await pool.Acquire();
    EXPECT_TRUE(lease.ok()) << lease.error();
    served.push_back(name);
    if (lease.ok()) pids.push_back((*lease)->backend_pid());
  };  // each gives its lease back at once, to the next in line
  for (const char* name : {"c", "d", "e"}) asio::co_spawn(io_, wait_turn(name), asio::detached);
  ASSERT_TRUE(RunUntil([&] { return pool.waiting() == 3u; }));
  EXPECT_EQ(pool.lent(), 2u);

  a.reset();
  ASSERT_TRUE(RunUntil([&] { return served.size() == 3u; }));
  EXPECT_EQ(served, (std::vector<std::string>{"c", "d", "e"}));
  EXPECT_EQ(pids, (std::vector<int>{a_pid, a_pid, a_pid})) << "a's connection, passed on";
  EXPECT_EQ(pool.lent(), 1u);
  b.reset();
  EXPECT_EQ(pool.idle(), 2u);
}

TEST_F(PgRecordStoreTest, AConnectionThatCannotBeMadeIsUnavailableAndTriedAgainLater) {
  const std::string closed =
      "postgresql://postgres@127.0.0.1:" + std::to_string(testing::FreePort()) + "/postgres";
  PgPool pool(io_.get_executor(), closed, 1);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::optional<Result<PgPool::Lease>> lease;
    Run([&]() -> asio::awaitable<void> { lease = co_await pool.Acquire(); });
    ASSERT_TRUE(lease.has_value());
    EXPECT_EQ(lease->code(), StatusCode::kUnavailable);
    EXPECT_EQ(lease->error().rfind("postgresql: cannot connect: connection to server at", 0), 0u)
        << lease->error();
    EXPECT_EQ(pool.lent(), 0u) << "a failed attempt holds no slot";
  }
}

// Runs `statements` (their errors ignored), then ends with `outcome`.
PgWork Statements(std::vector<std::string> statements, Status outcome) {
  return [=](PgConnection& c) -> asio::awaitable<Status> {
    const PgParams none;
    for (const auto& sql : statements) auto ignored = co_await c.Query(sql, none);
    co_return outcome;
  };
}

TEST_F(PgRecordStoreTest, ATransactionIsAllOrNothing) {
  PgPool pool(io_.get_executor(), conninfo_, 1);
  Run([&]() -> asio::awaitable<void> {
    auto made = co_await Sql("CREATE TABLE t (v int PRIMARY KEY)");
    PgWork work = Statements({"INSERT INTO t VALUES (1)"}, Status::Conflict("changed my mind"));
    Status failed = co_await pool.InTransaction(work);
    EXPECT_EQ(failed.message(), "changed my mind");
    // A statement's error is not forgotten when the work goes on.
    work = Statements({"INSERT INTO t VALUES (2)", "INSERT INTO t VALUES ('x')"}, Status::Ok());
    Status ignored = co_await pool.InTransaction(work);
    EXPECT_EQ(ignored.message(), "postgresql: a statement of the transaction failed; rolled back");
    work = Statements({"INSERT INTO t VALUES (3)"}, Status::Ok());
    Status committed = co_await pool.InTransaction(work);
    EXPECT_TRUE(committed.ok()) << committed.message();
    auto rows = co_await Sql("SELECT v FROM t");
    EXPECT_EQ(rows.rows.size(), 1u);
    EXPECT_EQ(rows.rows.at(0).at(0), "3");
  });
}

TEST(PgChangePayload, NamesADeploymentOrAProjectAndAnythingElseIsIgnored) {
  const std::pair<const char*, const char*> cases[] = {
      {"deployment:42", "d42"},  {"project:hello", "p:hello"}, {"deployment:", "none"},
      {"deployment:4x", "none"}, {"deployment:-1", "none"},    {"project:", "none"},
      {"release:7", "none"},
  };
  for (const auto& [payload, change] : cases) {
    auto parsed = ParseChangePayload(payload);
    EXPECT_EQ(parsed ? Describe(*parsed) : "none", change) << payload;
  }
}

}  // namespace
}  // namespace anthill::store
