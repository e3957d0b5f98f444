// Issue 11, "trust under real use": what real projects, several projects in
// one config and kill -9 at the worst moment broke. Each test is named after
// what a user relies on, and failed before its fix.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <random>
#include <set>
#include <thread>

#include "base/strings.h"
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

namespace fs = std::filesystem;

class TrustTest : public AnthillTest {
 protected:
  // Writes the config, starts Anthill and waits for the first commit to be
  // deployed; returns that commit.
  std::string DeployFirst(const ProjectOptions& o) {
    WriteConfig(o);
    const std::string head = Head();
    StartAnthill();
    EXPECT_EQ(WaitFinished(head)["status"], "succeeded");
    return head;
  }
  // SIGKILLs Anthill while the newest deployment's health check runs;
  // returns that deployment's id (0 when none got there within a minute).
  int64_t KillDuringHealthCheck() {
    int64_t id = 0;
    bool there = testing::WaitUntil(
        [&] {
          id = NewestId();
          return id > 0 && WaitStep(id, "healthcheck", "running", std::chrono::seconds(0));
        },
        std::chrono::seconds(60));
    KillAnthill();
    return there ? id : 0;
  }
  // Waits until a restarted Anthill has recovered the project.
  void WaitRecovered() {
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          json p = Project();
          return !p.is_null() && p["state"] != "starting";
        },
        std::chrono::seconds(30)));
  }
  std::string Notify(const std::string& commit) {
    auto [code, out] = RunCli({"notify", "hello", "-c", config_path_.string(), "--ref",
                               "refs/heads/main", "--commit", commit});
    EXPECT_EQ(code, 0) << out;
    return out;
  }
  int DeploymentsOf(const std::string& commit) {
    int n = 0;
    for (const auto& d : Deployments()) n += d["to_commit"] == commit;
    return n;
  }
  std::string Serving() { return AppGet("/"); }
  static std::string Label(const std::string& sha) { return "main-" + sha.substr(0, 8); }
  // The newest deployment (its id), once it exists.
  int64_t NewestId() {
    json list = Deployments();
    return list.empty() ? 0 : list[0]["id"].get<int64_t>();
  }
};

// Item 1: a build output that is a symlink to a cache outside the workspace
// was copied as the symlink; the next build changed what the older release
// ran, so the rollback from a crashing version crashed too.
TEST_F(TrustTest, ARollbackRunsTheOldCodeWhenTheBuildLinksIntoACache) {
  const std::string cache = (dir_ / "cache").string();
  ProjectOptions o;
  // `mode` is what the program reads at start (crash or not): kept in a cache
  // dir outside the workspace and linked in, as Bazel's bazel-bin is.
  o.build = "make && mkdir -p " + cache + " && { cp mode " + cache +
            "/mode 2>/dev/null || echo normal > " + cache + "/mode; } && rm -f mode && ln -s " +
            cache + "/mode mode";
  const std::string good = DeployFirst(o);
  ASSERT_FALSE(HasFailure());

  std::string bad = CommitMode("crash");
  json d = WaitFinished(bad);
  EXPECT_EQ(d["status"], "rolled_back") << d.dump(1);
  EXPECT_EQ(Project()["version"], Label(good));
  EXPECT_NE(Serving().find(Label(good)), std::string::npos);
  // The release holds a copy, not the link, and nobody can write into it.
  fs::path release =
      dir_ / "data/projects/hello/releases" / Project()["release"].get<std::string>();
  EXPECT_FALSE(fs::is_symlink(release / "mode"));
  EXPECT_EQ(testing::ReadFile(release / "mode"), "normal\n");
  EXPECT_EQ(fs::status(release / "hello").permissions() & fs::perms::owner_write, fs::perms::none);
  std::string log =
      ApiText("/api/v1/deployments/" + std::to_string(d["id"].get<int64_t>()) + "/log");
  EXPECT_NE(log.find("anthill: release: copied what mode points to"), std::string::npos) << log;
}

// Item 2: four projects on one repository, all looking at it at start-up,
// read each other's git output ("branch 'main' not found") and, with
// poll = "0", never deployed.
TEST_F(TrustTest, FourProjectsOnOneRepositoryAllDeployAtStartUp) {
  std::string text =
      "[server]\nlisten = \"127.0.0.1:" + std::to_string(api_port_) + "\"\ndata_dir = \"data\"\n";
  std::vector<std::string> names = {"alpha", "beta", "gamma", "delta"};
  std::vector<int> ports;
  for (const auto& name : names) {
    int port = testing::FreePort();
    ports.push_back(port);
    text += "[[project]]\nname = \"" + name + "\"\nrepo = \"" + origin().string() +
            "\"\nbranch = \"main\"\npoll = \"0\"\nbuild = \"make\"\nrun = \"./hello --port " +
            std::to_string(port) + "\"\nhealth = { tcp = \"127.0.0.1:" + std::to_string(port) +
            "\", timeout = \"20s\" }\n";
  }
  config_path_ = dir_ / "anthill.toml";
  testing::WriteFile(config_path_, text);
  StartAnthill();
  for (const auto& name : names) {
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          json list = Api("/api/v1/deployments?project=" + name);
          return list.is_object() && !list["deployments"].empty() &&
                 list["deployments"][0]["status"] == "succeeded";
        },
        std::chrono::seconds(60)))
        << name << ": " << Api("/api/v1/projects").dump(1);
  }
  const json projects = Api("/api/v1/projects");
  for (const auto& p : projects["projects"]) {
    EXPECT_EQ(p["last_error"], "") << p.dump(1);
  }
}

// Item 4: after a failed commit and a rollback by hand, the failed commit
// was deployed again by the next poll (only one pin was kept), and after a
// restart of Anthill too.
TEST_F(TrustTest, EveryFailedOrLeftCommitStaysPinnedAcrossRestarts) {
  std::string first = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  std::string second = CommitChange("second");
  ASSERT_EQ(WaitFinished(second)["status"], "succeeded");
  std::string broken = CommitMode("crash");
  ASSERT_EQ(WaitFinished(broken)["status"], "rolled_back");

  auto [code, out] =
      RunCli({"rollback", "hello", "--to", Label(first), "-c", config_path_.string()});
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(Serving().find(Label(first)), std::string::npos);
  // The head is `broken`: neither it nor `second` (left by the rollback) comes back.
  EXPECT_NE(Notify(broken).find("is pinned out"), std::string::npos);
  EXPECT_NE(Notify(second).find("is pinned out (rolled back from by "), std::string::npos);

  StopAnthill();
  StartAnthill();
  WaitRecovered();
  EXPECT_NE(Notify(broken).find("is pinned out"), std::string::npos);
  EXPECT_EQ(DeploymentsOf(broken), 1);
  std::set<std::string> listed;
  const json project = Project();
  for (const auto& pin : project["pinned_out"]) listed.insert(pin["commit"].get<std::string>());
  EXPECT_EQ(listed, (std::set<std::string>{broken, second})) << project.dump(1);
  EXPECT_EQ(Project()["version"], Label(first));
  EXPECT_NE(Serving().find(Label(first)), std::string::npos);
}

// Item 5: killed during the new version's health check, Anthill came back,
// killed the old (good) program as a leftover and kept the new one, which
// never passed its check. Both ways of swapping.
class UnverifiedTest : public TrustTest, public ::testing::WithParamInterface<bool> {};

TEST_P(UnverifiedTest, AKillDuringTheHealthCheckNeverPromotesTheUnverifiedVersion) {
  const bool zero_downtime = GetParam();
  ProjectOptions o;
  if (zero_downtime) {
    o.extra =
        "listen = [\"tcp://127.0.0.1:" + std::to_string(app_port_) + "\"]\nready = \"notify\"\n";
  }
  o.health = "{ http = \"http://127.0.0.1:" + std::to_string(app_port_) +
             "/healthz\", timeout = \"3s\", interval = \"50ms\" }";
  const std::string good = DeployFirst(o);
  ASSERT_FALSE(HasFailure());
  const int64_t good_pid = Project()["pid"];

  // Never healthy (500 on /healthz), or never READY=1.
  std::string bad = CommitMode(zero_downtime ? "never-ready" : "unhealthy");
  const int64_t id = KillDuringHealthCheck();
  ASSERT_GT(id, 0);

  StartAnthill();
  WaitRecovered();
  // The unchecked program was stopped at start-up, and said so.
  bool said = false;
  const json events = Api("/api/v1/projects/hello/events");
  for (const auto& e : events["events"]) {
    said |= e["detail"].get<std::string>().find(Label(bad) +
                                                " never passed its health check "
                                                "(Anthill stopped during it)") != std::string::npos;
  }
  EXPECT_TRUE(said) << events.dump(1);
  EXPECT_EQ(Api("/api/v1/deployments/" + std::to_string(id))["status"], "interrupted");
  // The commit was not proven bad, so it is tried again, checked, and rolled back.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["id"].get<int64_t>() > id && d["to_commit"] == bad && !d["finished_at"].is_null()) {
            return d["status"] == "rolled_back";
          }
        }
        return false;
      },
      std::chrono::seconds(60)))
      << Deployments().dump(1);
  json p = Project();
  EXPECT_EQ(p["version"], Label(good)) << p.dump(1);
  EXPECT_EQ(p["state"], "running") << p.dump(1);
  EXPECT_NE(Serving().find(Label(good)), std::string::npos);
  if (zero_downtime) {
    EXPECT_EQ(p["pid"].get<int64_t>(), good_pid) << "the old one kept serving";
  }
  // Exactly one program: the unchecked ones were stopped.
  EXPECT_EQ(
      os::ProcessesWithCwdUnder(dir_ / "data/projects/hello/releases", "ANTHILL_PROJECT=hello")
          .size(),
      1u);
}

INSTANTIATE_TEST_SUITE_P(StopThenStartAndZeroDowntime, UnverifiedTest, ::testing::Bool());

// Item 6: killed during a rollback's health check, the restarted Anthill's
// first poll deployed the version the operator rolled back from.
TEST_F(TrustTest, AKillDuringARollbackNeitherUndoesItNorLeavesItHalfDone) {
  // The version to go back to takes a second to answer: its check is long
  // enough to be killed in.
  std::string slow = CommitMode("slow-start");
  StartAnthill();
  ASSERT_EQ(WaitFinished(slow)["status"], "succeeded");
  std::string fast = CommitMode("normal");
  ASSERT_EQ(WaitFinished(fast)["status"], "succeeded");

  auto [code, out] = RunCli({"rollback", "hello", "--no-wait", "-c", config_path_.string()});
  ASSERT_EQ(code, 0) << out;
  ASSERT_GT(KillDuringHealthCheck(), 0);

  StartAnthill();
  WaitRecovered();
  ASSERT_TRUE(testing::WaitUntil([&] { return Serving().find(Label(slow)) != std::string::npos; },
                                 std::chrono::seconds(30)))
      << Project().dump(1);
  EXPECT_NE(Notify(fast).find("is pinned out"), std::string::npos);
  EXPECT_EQ(DeploymentsOf(fast), 1);
  EXPECT_EQ(Project()["version"], Label(slow));
}

// Item 7: a deploy by hand of a new commit was followed by a second
// deployment of the same commit when a poll saw it meanwhile.
TEST_F(TrustTest, APollDuringADeployByHandOfTheSameCommitAddsNothing) {
  ProjectOptions o;
  o.poll = "0";
  const std::string first = DeployFirst(o);
  ASSERT_FALSE(HasFailure());
  std::string next = CommitChange("next");
  auto [code, out] = RunCli({"deploy", "hello", "--no-wait", "-c", config_path_.string()});
  ASSERT_EQ(code, 0) << out;
  int64_t id = 0;
  ASSERT_TRUE(testing::WaitUntil([&] {
    id = NewestId();
    json d = Api("/api/v1/deployments/" + std::to_string(id));
    return d.is_object() && d["to_commit"] == next;
  }));
  auto [ncode, nout] = RunCli({"notify", "hello", "-c", config_path_.string()});  // "look now"
  EXPECT_EQ(ncode, 0) << nout;
  EXPECT_EQ(WaitDeploymentEnded(id)["status"], "succeeded");
  // The look found `next` being deployed already: one deployment of it.
  ASSERT_TRUE(testing::WaitUntil([&] { return Project()["state"] == "running"; }));
  EXPECT_EQ(DeploymentsOf(next), 1) << Deployments().dump(1);
}

// Items 8 and 9: another process holding the database's write lock froze
// every probe and project, lost a push, and left a finished deployment
// "running" until the next restart called it interrupted.
TEST_F(TrustTest, ALockedDatabaseStallsNothingAndLosesNoRecord) {
  ProjectOptions o;
  o.poll = "0";
  const std::string first = DeployFirst(o);
  ASSERT_FALSE(HasFailure());

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "data/anthill.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string next = CommitChange("while the database is locked");
  std::string answer = Notify(next);  // a push: kept, not a 500
  EXPECT_NE(answer.find("queued"), std::string::npos) << answer;
  EXPECT_FALSE(ApiText("/healthz").empty());
  ASSERT_TRUE(testing::WaitUntil([&] { return Serving().find(Label(next)) != std::string::npos; },
                                 std::chrono::seconds(60)));
  // Finished is shown finished, though the file cannot hold it yet.
  json d = WaitFinished(next);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);

  // Once the lock is gone the record is written: a restart finds it succeeded.
  ASSERT_TRUE(testing::WaitUntil([&] {
    sqlite3* reader = nullptr;
    sqlite3_open((dir_ / "data/anthill.db").c_str(), &reader);
    sqlite3_stmt* st = nullptr;
    std::string status;
    std::string sql = "SELECT status FROM deployments WHERE to_commit='" + next + "'";
    if (sqlite3_prepare_v2(reader, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      status = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(reader);
    return status == "succeeded";
  }));
  StopAnthill();
  StartAnthill();
  EXPECT_EQ(WaitFinished(next)["status"], "succeeded");
}

// Item 10: start-up killed a build tool's server (Bazel's, Gradle's daemon)
// as a crash leftover, so every next build was cold.
TEST_F(TrustTest, ABuildToolServerOutlivesAnAnthillCrash) {
  ProjectOptions o;
  // A server in its own session, started by the build if none runs, in the
  // workspace with the build's environment: as Bazel's is.
  o.build =
      "make && { test -f server.pid && kill -0 $(cat server.pid) 2>/dev/null || "
      "{ setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! > server.pid; }; }";
  const std::string first = DeployFirst(o);
  ASSERT_FALSE(HasFailure());
  const pid_t server =
      std::atoi(testing::ReadFile(dir_ / "data/projects/hello/workspace/server.pid").c_str());
  ASSERT_GT(server, 0);
  ASSERT_TRUE(ProcessAlive(server));
  KillAnthill();
  StartAnthill();
  WaitRecovered();
  EXPECT_TRUE(ProcessAlive(server)) << "the build tool's server was killed as a leftover";
  EXPECT_NE(Serving().find(Label(first)), std::string::npos);
  kill(server, SIGKILL);
}

// Issue 12, item 5: a version that died a few seconds after passing its
// health check stayed deployed, restarted with backoff while requests failed.
TEST_F(TrustTest, AVersionThatDiesSoonAfterItsCheckIsRolledBack) {
  ProjectOptions o;
  o.health = "{ http = \"http://127.0.0.1:" + std::to_string(app_port_) +
             "/healthz\", timeout = \"10s\", interval = \"50ms\", min_healthy_time = \"3s\" }";
  const std::string good = DeployFirst(o);
  ASSERT_FALSE(HasFailure());
  std::string flaky = CommitMode("crash-later");
  json d = WaitFinished(flaky);
  EXPECT_EQ(d["status"], "rolled_back") << d.dump(1);
  // Seen exiting, or seen refusing a probe first: either way, after it passed.
  const std::string error = d["error"];
  EXPECT_TRUE(error.rfind("exited (killed by SIGALRM) ", 0) == 0 ||
              error.rfind("failed its health check ", 0) == 0)
      << error;
  EXPECT_NE(error.find(" after passing"), std::string::npos) << error;
  EXPECT_NE(error.find("within min_healthy_time 3.0 s"), std::string::npos) << error;
  EXPECT_EQ(Project()["version"], Label(good));
  EXPECT_NE(Serving().find(Label(good)), std::string::npos);
}

// The "done when": Anthill SIGKILLed at random moments while good
// versions (slow to get healthy), bad ones (crash, or never healthy) and
// rollbacks come in; after each restart, once it settles, what runs is a
// version that passes its check and not one a rollback left.
TEST_F(TrustTest, KillLoopDuringChecksAndRollbacksNeverRunsAnUncheckedVersionOrUndoesARollback) {
  ProjectOptions o;
  o.health = "{ http = \"http://127.0.0.1:" + std::to_string(app_port_) +
             "/healthz\", timeout = \"3s\", interval = \"50ms\" }";
  WriteConfig(o);
  std::set<std::string> good = {Head()};
  std::set<std::string> left;  // commits rolled away from, not gone back to since
  StartAnthill();
  ASSERT_EQ(WaitFinished(Head())["status"], "succeeded");
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> moment_ms(0, 1500);
  int rollbacks = 0;
  for (int round = 0; round < 30; ++round) {
    switch (round % 3) {
      case 0:  // good, but a second before it answers: a long health check
        testing::WriteFile(origin() / "CHANGES", "round " + std::to_string(round) + "\n");
        good.insert(CommitMode("slow-start"));
        break;
      case 1:
        testing::WriteFile(origin() / "CHANGES", "round " + std::to_string(round) + "\n");
        (void)CommitMode(round % 2 ? "crash" : "unhealthy");
        break;
      case 2: {
        auto [code, out] = RunCli({"rollback", "hello", "--no-wait", "-c", config_path_.string()});
        if (code != 0) break;  // nothing to go back to yet
        ++rollbacks;
        json p = Project();
        if (!p.is_null() && !p["pinned_out_commit"].get<std::string>().empty()) {
          left.insert(p["pinned_out_commit"].get<std::string>());
        }
        for (const auto& d : Deployments()) {  // newest first: this rollback's target
          if (d["trigger"] != "rollback") continue;
          left.erase(d["to_commit"].get<std::string>());
          break;
        }
        break;
      }
    }
    // A random moment, not a synchronisation: the point is not knowing which
    // step (a health check, a rollback, a build) the kill interrupts.
    std::this_thread::sleep_for(std::chrono::milliseconds(moment_ms(rng)));
    KillAnthill();
    StartAnthill();
    // Settled: the head is running, or polls skip it (it failed, or a
    // rollback left it); without that, the next poll may still deploy it.
    const std::string head = Head();
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          json p = Project();
          json q = Api("/api/v1/queue");
          bool idle = q.is_object() && q.dump().find("\"running\":{") == std::string::npos &&
                      q.dump().find("\"waiting\":{") == std::string::npos;
          if (p.is_null() || p["state"] != "running" || p["health"] != "healthy" || !idle)
            return false;
          if (p["commit"] == head) return true;
          for (const auto& pin : p["pinned_out"]) {
            if (pin["commit"] == head) return true;
          }
          return false;
        },
        std::chrono::seconds(60)))
        << "round " << round << ": " << Project().dump(1) << Api("/api/v1/queue").dump(1);
    const std::string running = Project()["commit"];
    EXPECT_TRUE(good.count(running))
        << "round " << round << ": runs " << running << ", which never passed its check";
    EXPECT_FALSE(left.count(running))
        << "round " << round << ": runs " << running << ", which a rollback left";
    const std::string serving = Serving();
    EXPECT_NE(serving.find(Label(running)), std::string::npos)
        << "round " << round << " serves [" << serving << "]\n"
        << Project().dump(1) << "\n"
        << Deployments().dump(1).substr(0, 6000);
  }
  RecordProperty("rollbacks", rollbacks);
  EXPECT_GT(rollbacks, 0);
  for (const auto& d : Deployments()) {
    EXPECT_FALSE(d["finished_at"].is_null()) << d.dump(1) << Project().dump(1);
    for (const auto& step : d["steps"]) EXPECT_NE(step["status"], "running") << d.dump(1);
  }
  EXPECT_EQ(
      os::ProcessesWithCwdUnder(dir_ / "data/projects/hello/releases", "ANTHILL_PROJECT=hello")
          .size(),
      1u);
}

}  // namespace
}  // namespace anthill::e2e
