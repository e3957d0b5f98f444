// Tests only: the fixture the PostgreSQL stores' tests share: a fresh
// database on the binary's one PostgreSQL 15 (SharedPostgres, in
// record_contract_test.cc) per test, and the test's own io_context driven
// until a condition holds or a coroutine ends, 30 s at most.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "testing/postgres.h"

namespace anthill::store {

testing::Postgres& SharedPostgres();  // record_contract_test.cc: one server per binary

class PgLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::Postgres& server = SharedPostgres();
    ASSERT_TRUE(server.ok()) << server.error();
    const std::string database = server.CreateDatabase();
    ASSERT_FALSE(database.empty());
    conninfo_ = server.ConnectionString(database);
  }

  // Runs the test's loop until done() holds, for 30 s at most; returns done().
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    io_.restart();
    while (!done() && !io_.stopped() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
    }
    return done();
  }
  // Runs `body` as a coroutine on the test's loop, to its end.
  void Run(std::function<boost::asio::awaitable<void>()> body) {
    auto finished = std::make_shared<bool>(false);
    auto run = [body = std::move(body), finished]() -> boost::asio::awaitable<void> {
      co_await body();
      *finished = true;
    };
    boost::asio::co_spawn(io_, std::move(run), boost::asio::detached);
    ASSERT_TRUE(RunUntil([&] { return *finished; })) << "the coroutine did not finish in 30 s";
  }

  // A base member: built before, and destroyed after, everything of the
  // derived fixture that uses it.
  boost::asio::io_context io_;
  std::string conninfo_;
};

}  // namespace anthill::store
