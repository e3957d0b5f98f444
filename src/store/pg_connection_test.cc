// PgConnection against a real PostgreSQL 15 server the tests start
// (testing::Postgres): one server for the suite, a fresh database per test.
#include "store/pg_connection.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>

#include "testing/postgres.h"

namespace anthill::store {
namespace {

namespace asio = boost::asio;
using Conn = std::unique_ptr<PgConnection>;

// ASSERT_TRUE for a coroutine's body: ASSERT_* return, which a coroutine may
// not; this co_returns (ADD_FAILURE() << ... is a void expression).
#define CO_ASSERT_TRUE(cond) \
  if (cond) {                \
  } else                     \
    co_return ADD_FAILURE() << "Expected true: " #cond " "

class PgConnectionTest : public ::testing::Test {
 protected:
  // The suite's server starts in the first test's SetUp, not in
  // SetUpTestSuite: gtest skips a suite whose set-up failed, and a server
  // that cannot start must fail the tests, with its reason.
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (server_ == nullptr) server_ = new testing::Postgres();
    ASSERT_TRUE(server_->ok()) << server_->error();
    database_ = server_->CreateDatabase();
    ASSERT_FALSE(database_.empty());
  }

  // Runs `body` as a coroutine on a loop of its own, to the end.
  void RunLoop(const std::function<asio::awaitable<void>(asio::io_context&)>& body) {
    asio::io_context io;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await body(io);
          done = true;
        },
        asio::detached);
    io.run();
    ASSERT_TRUE(done) << "the coroutine did not finish";
  }

  // Connects to this test's database (Unix socket); fails the test when it cannot.
  static asio::awaitable<Conn> Open(asio::io_context& io, std::string conninfo) {
    auto executor = io.get_executor();
    auto conn = co_await PgConnection::Connect(executor, std::move(conninfo));
    EXPECT_TRUE(conn.ok()) << conn.error();
    co_return conn.ok() ? std::move(*conn) : nullptr;
  }

  // Runs sql with params on conn. A string_view and a reference, so that a
  // call with a literal makes no temporary std::string inside the caller's
  // co_await expression (GCC 12); copies are named here first.
  static asio::awaitable<Result<PgResult>> Run(PgConnection& conn, std::string_view sql,
                                               const PgParams& params) {
    std::string text(sql);
    PgParams values = params;
    auto result = co_await conn.Query(std::move(text), std::move(values));
    co_return result;
  }

  static testing::Postgres* server_;
  std::string database_;
};

testing::Postgres* PgConnectionTest::server_ = nullptr;

const PgParams kNoParams;

TEST_F(PgConnectionTest, CreatesInsertsWithParametersAndSelectsRowsBack) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn conn = co_await Open(io, info);
    if (!conn) co_return;
    auto created = co_await Run(*conn,
                                "CREATE TABLE hosts (id serial PRIMARY KEY, "
                                "name text UNIQUE NOT NULL, note text)",
                                kNoParams);
    EXPECT_TRUE(created.ok()) << created.error();
    EXPECT_EQ(created->affected_rows, 0);

    const std::string insert = "INSERT INTO hosts (name, note) VALUES ($1, $2) RETURNING id";
    PgParams web1 = {"web1", std::nullopt};
    auto first = co_await Run(*conn, insert, web1);
    EXPECT_TRUE(first.ok()) << first.error();
    EXPECT_EQ(first->affected_rows, 1);
    EXPECT_EQ(first->columns, std::vector<std::string>{"id"});
    CO_ASSERT_TRUE(first->rows.size() == 1u);
    EXPECT_EQ(first->rows[0][0], "1");
    PgParams web2 = {"web2", "café ☕ 'quoted' $1"};  // parameters are never SQL text
    auto second = co_await Run(*conn, insert, web2);
    EXPECT_TRUE(second.ok()) << second.error();

    PgParams after = {"0"};
    auto selected =
        co_await Run(*conn, "SELECT name, note FROM hosts WHERE id > $1 ORDER BY id", after);
    CO_ASSERT_TRUE(selected.ok()) << selected.error();
    EXPECT_EQ(selected->columns, (std::vector<std::string>{"name", "note"}));
    EXPECT_EQ(selected->affected_rows, 2);
    CO_ASSERT_TRUE(selected->rows.size() == 2u);
    EXPECT_EQ(selected->rows[0][0], "web1");
    EXPECT_EQ(selected->rows[0][1], std::nullopt);  // NULL, not ""
    EXPECT_EQ(selected->rows[1][0], "web2");
    EXPECT_EQ(selected->rows[1][1], "café ☕ 'quoted' $1");

    PgParams gone = {"web1"};
    auto deleted = co_await Run(*conn, "DELETE FROM hosts WHERE name = $1", gone);
    EXPECT_TRUE(deleted.ok()) << deleted.error();
    EXPECT_EQ(deleted->affected_rows, 1);
    EXPECT_TRUE(deleted->rows.empty());
  });
}

// A plan whose estimate crosses jit_above_cost would spend longer compiling
// than running; the caller's own options still apply.
TEST_F(PgConnectionTest, SessionsRunWithoutJitAndKeepTheOptionsTheCallerGives) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    const std::string plain = server_->ConnectionString(database_);
    const std::string with_options = plain + " options='-c statement_timeout=4321'";
    const std::string url = server_->TcpUrl(database_) + "?options=-c%20work_mem%3D7MB";
    for (const std::string& info : {plain, with_options, url}) {
      Conn conn = co_await Open(io, info);
      if (!conn) co_return;
      auto jit = co_await Run(*conn, "SHOW jit", kNoParams);
      CO_ASSERT_TRUE(jit.ok() && jit->rows.size() == 1u) << jit.error();
      EXPECT_EQ(jit->rows[0][0], "off") << info;
    }
    Conn conn = co_await Open(io, with_options);
    if (!conn) co_return;
    auto timeout = co_await Run(*conn, "SHOW statement_timeout", kNoParams);
    CO_ASSERT_TRUE(timeout.ok() && timeout->rows.size() == 1u) << timeout.error();
    EXPECT_EQ(timeout->rows[0][0], "4321ms");
    Conn by_url = co_await Open(io, url);
    if (!by_url) co_return;
    auto memory = co_await Run(*by_url, "SHOW work_mem", kNoParams);
    CO_ASSERT_TRUE(memory.ok() && memory->rows.size() == 1u) << memory.error();
    EXPECT_EQ(memory->rows[0][0], "7MB");
  });
}

TEST_F(PgConnectionTest, RawBytesRoundTripAsByteaAndInvalidUtf8TextIsAClearError) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn conn = co_await Open(io, info);
    if (!conn) co_return;
    auto created = co_await Run(*conn, "CREATE TABLE blobs (b bytea, t text)", kNoParams);
    EXPECT_TRUE(created.ok()) << created.error();

    // Bytes that are not UTF-8 (0xff, 0x80, 0xfe) and a zero byte, as bytea's
    // text form.
    PgParams raw = {"\\x00ff80fe"};
    auto inserted = co_await Run(*conn, "INSERT INTO blobs (b) VALUES ($1)", raw);
    EXPECT_TRUE(inserted.ok()) << inserted.error();
    auto back = co_await Run(*conn, "SELECT b, length(b) FROM blobs", kNoParams);
    CO_ASSERT_TRUE(back.ok()) << back.error();
    CO_ASSERT_TRUE(back->rows.size() == 1u);
    EXPECT_EQ(back->rows[0][0], "\\x00ff80fe");
    EXPECT_EQ(back->rows[0][1], "4");

    // The same kind of bytes as text: the server refuses them, by SQLSTATE.
    PgParams latin1 = {std::string("caf\xe9")};
    auto refused = co_await Run(*conn, "INSERT INTO blobs (t) VALUES ($1)", latin1);
    CO_ASSERT_TRUE(!refused.ok());
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.error(),
              "postgresql: invalid byte sequence for encoding \"UTF8\": 0xe9 (SQLSTATE 22021)");
    // A SQL error leaves the connection usable.
    EXPECT_FALSE(conn->broken());
    auto count = co_await Run(*conn, "SELECT count(*) FROM blobs", kNoParams);
    CO_ASSERT_TRUE(count.ok()) << count.error();
    EXPECT_EQ(count->rows[0][0], "1");
  });
}

TEST_F(PgConnectionTest, UniqueViolationIsAConflictNamingTheKey) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn conn = co_await Open(io, info);
    if (!conn) co_return;
    auto created = co_await Run(*conn, "CREATE TABLE pins (commit text PRIMARY KEY)", kNoParams);
    EXPECT_TRUE(created.ok()) << created.error();
    PgParams pin = {"abc123"};
    auto first = co_await Run(*conn, "INSERT INTO pins VALUES ($1)", pin);
    EXPECT_TRUE(first.ok()) << first.error();
    auto again = co_await Run(*conn, "INSERT INTO pins VALUES ($1)", pin);
    CO_ASSERT_TRUE(!again.ok());
    EXPECT_EQ(again.code(), StatusCode::kConflict);
    EXPECT_EQ(again.error(),
              "postgresql: duplicate key value violates unique constraint \"pins_pkey\" "
              "(SQLSTATE 23505); Key (commit)=(abc123) already exists.");

    auto syntax = co_await Run(*conn, "SELEC 1", kNoParams);
    CO_ASSERT_TRUE(!syntax.ok());
    EXPECT_EQ(syntax.code(), StatusCode::kInternal);
    EXPECT_EQ(syntax.error(), "postgresql: syntax error at or near \"SELEC\" (SQLSTATE 42601)");
    EXPECT_FALSE(conn->broken());
  });
}

TEST(PgErrorCode, KindsBySqlState) {
  const struct {
    const char* sqlstate;
    StatusCode code;
  } cases[] = {
      {"23505", StatusCode::kConflict},        {"23502", StatusCode::kInvalidArgument},
      {"23503", StatusCode::kInvalidArgument}, {"22021", StatusCode::kInvalidArgument},
      {"22P02", StatusCode::kInvalidArgument}, {"40001", StatusCode::kUnavailable},
      {"40P01", StatusCode::kUnavailable},     {"08006", StatusCode::kUnavailable},
      {"53300", StatusCode::kUnavailable},     {"57P01", StatusCode::kUnavailable},
      {"57014", StatusCode::kCancelled},       {"42601", StatusCode::kInternal},
      {"42P01", StatusCode::kInternal},        {"XX000", StatusCode::kInternal},
  };
  for (const auto& c : cases) EXPECT_EQ(PgErrorCode(c.sqlstate), c.code) << c.sqlstate;
}

TEST_F(PgConnectionTest, ConnectsOverTcpAndAClosedPortOrBadUrlIsAnError) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto url = server_->TcpUrl(database_);
    Conn conn = co_await Open(io, url);
    if (conn) {
      auto one = co_await Run(*conn, "SELECT 1", kNoParams);
      EXPECT_TRUE(one.ok()) << one.error();
    }

    auto executor = io.get_executor();
    std::string closed =
        "postgresql://postgres@127.0.0.1:" + std::to_string(testing::FreePort()) + "/" + database_;
    auto refused = co_await PgConnection::Connect(executor, closed);
    CO_ASSERT_TRUE(!refused.ok());
    EXPECT_EQ(refused.code(), StatusCode::kUnavailable);
    EXPECT_EQ(refused.error().rfind("postgresql: cannot connect: connection to server at "
                                    "\"127.0.0.1\"",
                                    0),
              0u)
        << refused.error();

    std::string no_such_db = server_->ConnectionString("no_such_database");
    auto missing = co_await PgConnection::Connect(executor, no_such_db);
    CO_ASSERT_TRUE(!missing.ok());
    EXPECT_EQ(missing.code(), StatusCode::kUnavailable);
    EXPECT_NE(missing.error().find("database \"no_such_database\" does not exist"),
              std::string::npos)
        << missing.error();

    std::string malformed = "postgresql://postgres@[::1/anthill";
    auto bad = co_await PgConnection::Connect(executor, malformed);
    CO_ASSERT_TRUE(!bad.ok());
    EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.error().rfind("postgresql: connection string: ", 0), 0u) << bad.error();
  });
}

// A query that cannot end until another coroutine on the same loop acts:
// `waiter` asks for an advisory lock `holder` has, and only holder's unlock,
// run on the same loop, lets it through. A loop blocked while the waiter's
// query is on the wire would never run the unlock: the test would hang (and
// fail at its deadline), not pass.
TEST_F(PgConnectionTest, TheLoopKeepsServingWhileAQueryIsOnTheWire) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn holder = co_await Open(io, info);
    Conn waiter = co_await Open(io, info);
    if (!holder || !waiter) co_return;
    auto locked = co_await Run(*holder, "SELECT pg_advisory_lock(42)", kNoParams);
    CO_ASSERT_TRUE(locked.ok()) << locked.error();

    std::vector<std::string> order;
    bool waiter_done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          order.push_back("waiter asks");
          auto got = co_await Run(*waiter, "SELECT pg_advisory_lock(42)", kNoParams);
          EXPECT_TRUE(got.ok()) << got.error();
          order.push_back("waiter has the lock");
          waiter_done = true;
        },
        asio::detached);

    // The holder's queries run while the waiter's is on the wire: wait (on
    // the server's word, with a deadline) until the waiter is seen waiting.
    asio::steady_timer pause(io);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    bool seen_waiting = false;
    while (!seen_waiting && std::chrono::steady_clock::now() < deadline) {
      auto waiting = co_await Run(
          *holder, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          kNoParams);
      CO_ASSERT_TRUE(waiting.ok()) << waiting.error();
      seen_waiting = waiting->rows.size() == 1u && waiting->rows[0][0] == "1";
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::use_awaitable);
    }
    CO_ASSERT_TRUE(seen_waiting) << "the waiter's query never reached the server";
    order.push_back("holder sees the waiter waiting");
    auto unlocked = co_await Run(*holder, "SELECT pg_advisory_unlock(42)", kNoParams);
    CO_ASSERT_TRUE(unlocked.ok()) << unlocked.error();
    // The connections live in this frame: it waits for the waiter to end.
    while (!waiter_done && std::chrono::steady_clock::now() < deadline) {
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(order, (std::vector<std::string>{"waiter asks", "holder sees the waiter waiting",
                                               "waiter has the lock"}));
  });
}

TEST_F(PgConnectionTest, AServerThatDropsTheConnectionIsUnavailableAndOneQueryAtATime) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn victim = co_await Open(io, info);
    Conn admin = co_await Open(io, info);
    if (!victim || !admin) co_return;

    // A second query while one is in flight is refused at once.
    std::optional<Result<PgResult>> overlapping;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          overlapping = co_await Run(*victim, "SELECT 2", kNoParams);
        },
        asio::detached);
    auto pid = co_await Run(*victim, "SELECT pg_backend_pid()", kNoParams);
    CO_ASSERT_TRUE(pid.ok()) << pid.error();
    CO_ASSERT_TRUE(overlapping.has_value());
    EXPECT_EQ(overlapping->code(), StatusCode::kConflict);

    PgParams target = {pid->rows[0][0]};
    auto killed = co_await Run(*admin, "SELECT pg_terminate_backend($1::int, 5000)", target);
    CO_ASSERT_TRUE(killed.ok()) << killed.error();
    EXPECT_EQ(killed->rows[0][0], "t");
    auto lost = co_await Run(*victim, "SELECT 1", kNoParams);
    CO_ASSERT_TRUE(!lost.ok());
    EXPECT_EQ(lost.code(), StatusCode::kUnavailable) << lost.error();
    EXPECT_TRUE(victim->broken());
    auto after = co_await Run(*victim, "SELECT 1", kNoParams);
    EXPECT_EQ(after.code(), StatusCode::kUnavailable) << after.error();
  });
}

TEST(PgValidText, InvalidUtf8AndZeroBytesBecomeReplacementCharacters) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  const struct {
    std::string in, out;
  } cases[] = {
      {"", ""},
      {"refs/heads/main", "refs/heads/main"},
      {"caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80"},
      {"caf\xe9", "caf" + r},                   // Latin-1
      {std::string("a\0b", 3), "a" + r + "b"},  // a zero byte
      {"\xc0\xaf", r + r},                      // overlong '/'
      {"\xed\xa0\x80", r + r + r},              // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", r + r + r + r},      // above U+10FFFF
      {"\xe2\x98", r + r},                      // cut short
      {"\x80x\xff", r + "x" + r},               // stray bytes
  };
  for (const auto& c : cases) EXPECT_EQ(PgValidText(c.in), c.out) << c.in;
}

TEST(PgBytea, EveryByteRoundTripsThroughHexTextForm) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string hex = PgByteaHex(all);
  EXPECT_EQ(hex.substr(0, 8), "\\x000102");
  EXPECT_EQ(PgByteaFromHex(hex), all);
  EXPECT_EQ(PgByteaFromHex("\\x"), "");
  EXPECT_EQ(PgByteaFromHex("00ff"), std::nullopt);
  EXPECT_EQ(PgByteaFromHex("\\x0g"), std::nullopt);
  EXPECT_EQ(PgByteaFromHex("\\x0"), std::nullopt);
}

TEST_F(PgConnectionTest, NotificationsAreWaitedForOnTheSocketAndAWaitCanBeCancelled) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn listener = co_await Open(io, info);
    Conn sender = co_await Open(io, info);
    if (!listener || !sender) co_return;
    const std::string channel = "anthill changes";  // quoted as an identifier
    Status listening = co_await listener->Listen(channel);
    CO_ASSERT_TRUE(listening.ok()) << listening.message();

    std::optional<Result<std::vector<PgNotification>>> heard;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { heard = co_await listener->WaitForNotifications(); },
        asio::detached);
    // Sent while the listener waits; two in one transaction arrive together, in order.
    auto sent = co_await Run(*sender, "BEGIN", kNoParams);
    PgParams first = {channel, "deployment:1"}, second = {channel, "deployment:2"};
    sent = co_await Run(*sender, "SELECT pg_notify($1, $2)", first);
    sent = co_await Run(*sender, "SELECT pg_notify($1, $2)", second);
    sent = co_await Run(*sender, "COMMIT", kNoParams);
    CO_ASSERT_TRUE(sent.ok()) << sent.error();
    asio::steady_timer turn(io);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!heard && std::chrono::steady_clock::now() < deadline) {
      turn.expires_after(std::chrono::milliseconds(1));
      co_await turn.async_wait(asio::use_awaitable);
    }
    CO_ASSERT_TRUE(heard.has_value()) << "nothing heard in 10 s";
    CO_ASSERT_TRUE(heard->ok()) << heard->error();
    CO_ASSERT_TRUE((*heard)->size() == 2u);
    EXPECT_EQ((**heard)[0].channel, channel);
    EXPECT_EQ((**heard)[0].payload, "deployment:1");
    EXPECT_EQ((**heard)[0].sender_pid, sender->backend_pid());
    EXPECT_EQ((**heard)[1].payload, "deployment:2");

    heard.reset();
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { heard = co_await listener->WaitForNotifications(); },
        asio::detached);
    auto busy = co_await Run(*sender, "SELECT 1", kNoParams);  // the wait is under way
    EXPECT_TRUE(listener->busy());
    listener->CancelWait();
    while (!heard && std::chrono::steady_clock::now() < deadline) {
      turn.expires_after(std::chrono::milliseconds(1));
      co_await turn.async_wait(asio::use_awaitable);
    }
    CO_ASSERT_TRUE(heard.has_value()) << "the cancelled wait did not end";
    EXPECT_EQ(heard->code(), StatusCode::kCancelled) << heard->error();
    EXPECT_FALSE(listener->broken());
    auto still = co_await Run(*listener, "SELECT 1", kNoParams);
    EXPECT_TRUE(still.ok()) << still.error();
  });
}

TEST_F(PgConnectionTest, AnIdleSessionEndedByTheServerIsSeenBeforeTheNextQuery) {
  RunLoop([&](asio::io_context& io) -> asio::awaitable<void> {
    auto info = server_->ConnectionString(database_);
    Conn idle = co_await Open(io, info);
    Conn admin = co_await Open(io, info);
    if (!idle || !admin) co_return;
    auto begun = co_await Run(*idle, "BEGIN", kNoParams);
    EXPECT_TRUE(idle->in_transaction());
    auto wrong = co_await Run(*idle, "SELEC 1", kNoParams);
    EXPECT_TRUE(idle->transaction_failed());
    auto ended = co_await Run(*idle, "ROLLBACK", kNoParams);
    EXPECT_FALSE(idle->in_transaction());
    EXPECT_TRUE(idle->StillConnected());

    PgParams target = {std::to_string(idle->backend_pid())};
    auto killed = co_await Run(*admin, "SELECT pg_terminate_backend($1::int, 5000)", target);
    CO_ASSERT_TRUE(killed.ok()) << killed.error();
    EXPECT_FALSE(idle->StillConnected());
    EXPECT_TRUE(idle->broken());
  });
}

}  // namespace
}  // namespace anthill::store
