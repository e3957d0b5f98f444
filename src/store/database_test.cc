// [server] database: what is accepted, what is refused and how it says so.
#include "store/database.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

#include "testing/testing.h"

namespace anthill::store {
namespace {

TEST(ParseDatabase, EmptyPathsAndSqliteUrlsNameASqliteFile) {
  const std::filesystem::path data = "/srv/anthill-data", config = "/etc/anthill";
  struct Case {
    std::string value;
    std::string file;
  } cases[] = {
      {"", "/srv/anthill-data/anthill.db"},
      {"/var/lib/anthill/record.db", "/var/lib/anthill/record.db"},
      {"state/record.db", "/etc/anthill/state/record.db"},
      {"../record.db", "/etc/record.db"},
      {"sqlite:///var/lib/a.db", "/var/lib/a.db"},
      {"sqlite://a.db", "/etc/anthill/a.db"},
      {"sqlite:/var/lib/a.db", "/var/lib/a.db"},
      {"sqlite:a.db", "/etc/anthill/a.db"},
      {"SQLite:///var/lib/a.db", "/var/lib/a.db"},
      {"sqlite:", "/srv/anthill-data/anthill.db"},
      {"sqlite://", "/srv/anthill-data/anthill.db"},
      {"odd:name.db", "/etc/anthill/odd:name.db"},  // a ':' without "//" is a path
  };
  for (const auto& c : cases) {
    auto db = ParseDatabase(c.value, data, config);
    ASSERT_TRUE(db.ok()) << c.value << ": " << db.error();
    EXPECT_EQ(db->sqlite_file, c.file) << c.value;
  }
}

TEST(ParseDatabase, APostgresqlUrlNamesTheRecordAndKeepsTheMachineStateInTheDataDir) {
  for (const char* url : {"postgresql://anthill@db.internal:5432/anthill",
                          "postgres://db.internal/anthill?sslmode=require",
                          "postgresql:///anthill?host=/run/postgresql"}) {
    auto db = ParseDatabase(url, "/data", "/etc");
    ASSERT_TRUE(db.ok()) << url << ": " << db.error();
    EXPECT_EQ(db->postgres, url);
    EXPECT_EQ(db->machine_file, "/data/machine.db");
  }
}

// The config is read by many people and tools; a password belongs in
// PGPASSWORD or ~/.pgpass, where libpq finds it.
TEST(ParseDatabase, APostgresqlUrlWithAPasswordIsRefusedWithoutRepeatingIt) {
  for (const char* url :
       {"postgresql://anthill:s3cret@db.internal:5432/anthill",
        "postgres://anthill:s3cret@db.internal/anthill",
        "postgresql://anthill@db.internal/anthill?sslmode=require&password=s3cret"}) {
    auto db = ParseDatabase(url, "/data", "/etc");
    ASSERT_FALSE(db.ok()) << url;
    const std::string scheme = std::string(url).substr(0, std::string(url).find("://"));
    EXPECT_EQ(db.error(), "[server] database: the \"" + scheme +
                              "://...\" URL holds a password; the config is no place for it: set "
                              "PGPASSWORD in Anthill's environment or put it in ~/.pgpass");
    EXPECT_EQ(db.error().find("s3cret"), std::string::npos);
    EXPECT_EQ(db.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(ParseDatabase, OtherSchemesAndDirectoriesAreRefused) {
  auto mysql = ParseDatabase("mysql://root@localhost/anthill", "/data", "/etc");
  ASSERT_FALSE(mysql.ok());
  EXPECT_EQ(mysql.error(),
            "[server] database: unknown scheme \"mysql://\"; give a SQLite file path (or "
            "sqlite:PATH), or leave it empty for SQLite in data_dir");
  auto dir = ParseDatabase("/var/lib/anthill/", "/data", "/etc");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error(),
            "[server] database: \"/var/lib/anthill/\" names a directory; give the SQLite file's "
            "path");
}

// Open, run to its end on an io_context of its own.
Result<std::unique_ptr<Store>> OpenNow(const Database& where, const std::string& machine) {
  boost::asio::io_context io;
  std::optional<Result<std::unique_ptr<Store>>> out;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        out = co_await Open(io.get_executor(), where, machine);
      },
      boost::asio::detached);
  io.run();
  return std::move(*out);
}

TEST(OpenDatabase, ACustomPathHoldsTheRecordAndNothingGoesToTheDataDir) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "data");
  std::filesystem::create_directories(dir / "state");
  auto where = ParseDatabase("sqlite:state/record.db", dir / "data", dir.path());
  ASSERT_TRUE(where.ok()) << where.error();
  EXPECT_EQ(where->sqlite_file, dir / "state/record.db");
  int64_t id = 0;
  {
    auto store = OpenNow(*where, "web1");
    ASSERT_TRUE(store.ok()) << store.error();
    EXPECT_EQ((*store)->machine(), "web1");
    Deployment d;
    d.project = "hello";
    d.machine = "web1";
    d.started_at = FromUnixMillis(1);
    id = *(*store)->CreateDeployment(d);
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "state/record.db"));
  EXPECT_FALSE(std::filesystem::exists(dir / "data/anthill.db"));
  auto again = OpenSqlite(where->sqlite_file, "web1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->GetDeployment(id)->has_value());
}

TEST(OpenDatabase, AMissingDirectoryIsAnErrorNamingTheFile) {
  auto where = ParseDatabase("/no/such/dir/record.db", "/data", "/etc");
  ASSERT_TRUE(where.ok());
  auto store = OpenNow(*where, "web1");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().rfind("cannot open database /no/such/dir/record.db: ", 0), 0u)
      << store.error();
}

}  // namespace
}  // namespace anthill::store
