// `[server] database = "postgresql://..."`: the record in a real PostgreSQL 15
// started by the test, the machine's own state in data_dir/machine.db. The
// same deploy loop as on SQLite, across a kill -9 and a restart.
#include "testing/postgres.h"

#include <signal.h>

#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

class PostgresTest : public AnthillTest {
 protected:
  void SetUp() override {
    AnthillTest::SetUp();
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    database_ = pg_.CreateDatabase();
    ASSERT_FALSE(database_.empty());
    ProjectOptions o;
    o.server_extra = "database = \"" + pg_.TcpUrl(database_) + "\"";
    WriteConfig(o);
  }

  testing::Postgres pg_;
  std::string database_;
};

TEST_F(PostgresTest, DeploysAreRecordedInPostgresqlAndOutliveAKillAndARestart) {
  const std::string first = Head();
  StartAnthill();
  json d1 = WaitFinished(first);
  ASSERT_FALSE(d1.is_null());
  EXPECT_EQ(d1["status"], "succeeded") << d1.dump(1);
  EXPECT_EQ(d1["steps"].size(), 8u) << d1.dump(1);  // upload and download too
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data/anthill.db")) << "the record is not local";
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data/machine.db"));

  const std::string second = CommitChange("second on postgresql");
  json d2 = WaitFinished(second);
  ASSERT_FALSE(d2.is_null());
  EXPECT_EQ(d2["status"], "succeeded") << d2.dump(1);
  EXPECT_EQ(d2["from_commit"], first);
  const int64_t pid = Project()["pid"];

  // kill -9: the program keeps running and is re-adopted; the record, in
  // PostgreSQL, has both deployments, and nothing is deployed again.
  KillAnthill();
  StartAnthill();
  ASSERT_TRUE(testing::WaitUntil([&] { return Project()["pid"] == pid; }, std::chrono::seconds(20)))
      << Project().dump(1);
  json list = Deployments();
  ASSERT_EQ(list.size(), 2u) << list.dump(1);
  EXPECT_EQ(list[0]["to_commit"], second);
  EXPECT_EQ(list[1]["to_commit"], first);

  // A rollback finds its target in the record read back at start-up.
  auto [code, out] = RunCli({"rollback", "hello", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  json back = WaitFinished(first);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        json l = Deployments();
        return l.size() == 3 && !l[0]["finished_at"].is_null();
      },
      std::chrono::seconds(60)));
  json l = Deployments();
  EXPECT_EQ(l[0]["trigger"], "rollback") << l[0].dump(1);
  EXPECT_EQ(l[0]["status"], "succeeded") << l[0].dump(1);
  EXPECT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);
  StopAnthill();
}

}  // namespace
}  // namespace anthill::e2e
