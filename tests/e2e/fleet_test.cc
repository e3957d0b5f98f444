// A fleet on one box: a real PostgreSQL 15, one orchestrator (roles
// orchestrator + agent) and two builders (role builder), each its own
// `anthill serve` process with its own data dir. Builds go through the
// queue in PostgreSQL; the builder that takes a job packs the release and
// uploads it to the orchestrator, which downloads, verifies and unpacks it
// before the swap.
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <optional>

#include "tests/e2e/fleet_harness.h"
#include "watch/hooks.h"

namespace anthill::e2e {
namespace {

namespace fs = std::filesystem;

class FleetTest : public FleetHarness {};

TEST_F(FleetTest, ABuilderBuildsAndTheOrchestratorDeploysTheArtifact) {
  WriteOrchestrator("make");
  StartAnthill();
  StartBuilder("b1");
  StartBuilder("b2");
  const std::string first = Head();
  json d1 = WaitFinished(first, std::chrono::seconds(90));
  ASSERT_FALSE(d1.is_null());
  EXPECT_EQ(d1["status"], "succeeded") << d1.dump(1);
  EXPECT_EQ(StepNames(d1), (std::vector<std::string>{"fetch", "build", "test", "release", "upload",
                                                     "download", "start", "healthcheck"}))
      << d1.dump(1);
  EXPECT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);
  // Who built it, and the artifact's checksum and size, with the deployment.
  json one = Api("/api/v1/deployments/" + d1["id"].dump());
  ASSERT_TRUE(one.contains("build")) << one.dump(1);
  EXPECT_EQ(one["build"]["status"], "succeeded");
  EXPECT_TRUE(one["build"]["builder"] == "b1" || one["build"]["builder"] == "b2") << one.dump(1);
  EXPECT_EQ(one["build"]["artifact"]["key"], "hello/main-" + first.substr(0, 8) + ".tar.zst");
  EXPECT_EQ(one["build"]["artifact"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_GT(one["build"]["artifact"]["size"].get<int64_t>(), 0);
  // The orchestrator built nothing itself: no workspace of its own.
  EXPECT_FALSE(fs::exists(dir_ / "data/projects/hello/workspace"));
  EXPECT_TRUE(fs::exists(dir_ / "data/artifacts"));

  const std::string second = CommitChange("second, by the fleet");
  json d2 = WaitFinished(second, std::chrono::seconds(90));
  ASSERT_FALSE(d2.is_null());
  EXPECT_EQ(d2["status"], "succeeded") << d2.dump(1);
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
  StopAnthill();
}

TEST_F(FleetTest, ABuilderKilledMidBuildLosesItsJobToTheOther) {
  // The build says which builder runs it, then waits for the test's word.
  WriteOrchestrator("touch " + marks_.string() + "/started-$ANTHILL_MACHINE; until [ -f " +
                    marks_.string() + "/go ]; do sleep 0.05; done; make");
  StartAnthill();
  StartBuilder("b1");
  StartBuilder("b2");
  std::string first_builder;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const char* name : {"b1", "b2", "ob"}) {
          if (fs::exists(marks_ / ("started-" + std::string(name) + "-box"))) {
            first_builder = name;
          }
        }
        return !first_builder.empty();
      },
      std::chrono::seconds(60)));
  KillBuilder(first_builder);
  testing::WriteFile(marks_ / "go", "");
  const std::string other = first_builder == "b1" ? "b2" : "b1";
  json d = WaitFinished(Head(), std::chrono::seconds(90));
  ASSERT_FALSE(d.is_null());
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_TRUE(fs::exists(marks_ / ("started-" + other + "-box")));
  // The first attempt's steps were ended as interrupted, the second's ran
  // to the end; the commit was built to completion once.
  EXPECT_EQ(StepNames(d, "interrupted"), (std::vector<std::string>{"build"})) << d.dump(1);
  EXPECT_EQ(StepNames(d, "running"), std::vector<std::string>{}) << d.dump(1);
  EXPECT_EQ(StepNames(d, "succeeded"),
            (std::vector<std::string>{"fetch", "fetch", "build", "test", "release", "upload",
                                      "download", "start", "healthcheck"}))
      << d.dump(1);
  StopAnthill();
}

TEST_F(FleetTest, AJobNoBuilderCanRunWaitsAndSaysWhy) {
  WriteOrchestrator("make", "build_labels = [\"gpu\"]");
  StartAnthill();
  StartBuilder("b1");
  json job;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        json q = Api("/api/v1/queue");
        if (!q.contains("build_jobs") || q["build_jobs"].empty()) return false;
        job = q["build_jobs"][0];
        return job["waiting_for"] == "no builder has labels gpu";
      },
      std::chrono::seconds(30)))
      << job.dump(1);
  EXPECT_EQ(job["status"], "queued");
  EXPECT_EQ(job["labels"], json::array({"gpu"}));
  auto [code, out] = RunCli({"queue", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("no builder has labels gpu"), std::string::npos) << out;
  // A builder that has the label takes it.
  StartBuilder("b2", "\"gpu\", \"linux\"");
  json d = WaitFinished(Head(), std::chrono::seconds(90));
  ASSERT_FALSE(d.is_null());
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_NE(testing::ReadFile(dir_ / "b2" / "anthill.log").find("builder b2: job"),
            std::string::npos);
  EXPECT_EQ(testing::ReadFile(dir_ / "b1" / "anthill.log").find("builder b1: job"),
            std::string::npos);
  StopAnthill();
}

// Two orchestrators (orchestrator + agent each, on "machines" test-machine
// and box-b) share the database and one project: one holds it and deploys;
// killed with SIGKILL while its build runs, the other takes the project over
// within the lease (10 s), records the dead one's deployment interrupted,
// brings up on its own machine what ran on the dead one's, then uses the
// build already running instead of building the commit again, and deploys
// it. A deploy asked of the one that does not
// hold the project is passed on to the holder.
TEST_F(FleetTest, AnOrchestratorKilledMidBuildLosesItsProjectToTheOther) {
  const std::string build = "echo $ANTHILL_COMMIT >> " + marks_.string() + "/builds; until [ -f " +
                            marks_.string() + "/go ]; do sleep 0.05; done; make";
  testing::WriteFile(marks_ / "go", "");
  // The artifact store is shared: one orchestrator's own would go with it.
  UseS3();
  const int a_api = api_port_, a_app = app_port_;
  WriteOrchestrator(build);
  StartAnthill();  // A
  StartBuilder("b1");
  const std::string first = Head();
  json d1 = WaitFinished(first, std::chrono::seconds(90));
  ASSERT_FALSE(d1.is_null());
  ASSERT_EQ(d1["status"], "succeeded") << d1.dump(1);
  EXPECT_EQ(d1["machine"], "test-machine");

  // B starts, and finds the project held by A.
  const int b_api = StartSecondOrchestrator(build);
  const int b_app = b_app_;
  api_port_ = b_api;
  json seen;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        seen = Project("hello");
        return !seen.is_null() && seen["state"] == "elsewhere" &&
               seen["orchestrator"] == "test-machine";
      },
      std::chrono::seconds(20)))
      << seen.dump(1);
  // Both show the same record.
  EXPECT_EQ(Deployments().size(), 1u);

  // The next commit's build waits for the test's word; A is killed meanwhile.
  fs::remove(marks_ / "go");
  const std::string second = CommitChange("second, over the fail-over");
  ASSERT_TRUE(testing::WaitUntil(
      [&] { return testing::ReadFile(marks_ / "builds").find(second) != std::string::npos; },
      std::chrono::seconds(60)))
      << testing::ReadFile(dir_ / "b1" / "anthill.log");
  api_port_ = a_api;
  KillAnthill();
  const auto killed_at = std::chrono::steady_clock::now();

  // B takes the project over and joins the build in flight.
  api_port_ = b_api;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        seen = Project("hello");
        return !seen.is_null() && seen["state"] != "elsewhere";
      },
      std::chrono::seconds(30)))
      << seen.dump(1);
  const auto took = std::chrono::steady_clock::now() - killed_at;
  EXPECT_LT(took, std::chrono::seconds(20)) << "fail-over took too long";
  // Its deployment's log says it uses the job in flight.
  auto joined = [&] {
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(dir_ / "ob/data/logs/build", ec)) {
      if (testing::ReadFile(f.path()).find("is building this commit already: using it") !=
          std::string::npos)
        return true;
    }
    return false;
  };
  ASSERT_TRUE(testing::WaitUntil(joined, std::chrono::seconds(30)));
  testing::WriteFile(marks_ / "go", "");
  json d2;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["to_commit"] == second && d["machine"] == "box-b" && d["status"] == "succeeded") {
            d2 = d;
            return true;
          }
        }
        return false;
      },
      std::chrono::seconds(90)))
      << Deployments().dump(1);
  app_port_ = b_app;
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
  // Before it, what ran on A was brought up on B: a release to go back to.
  bool restored = false;
  for (const auto& d : Deployments()) {
    restored = restored ||
               (d["to_commit"] == first && d["machine"] == "box-b" && d["status"] == "succeeded" &&
                d["actor"] == "take-over (it ran on test-machine)");
  }
  EXPECT_TRUE(restored) << Deployments().dump(1);
  // Built once: one build of the second commit, by b1.
  const std::string builds = testing::ReadFile(marks_ / "builds");
  size_t count = 0;
  for (size_t at = builds.find(second); at != std::string::npos; at = builds.find(second, at + 1))
    ++count;
  EXPECT_EQ(count, 1u) << builds;
  // A's deployment of it ended as interrupted; nothing is left running.
  bool a_interrupted = false;
  for (const auto& d : Deployments()) {
    EXPECT_FALSE(d["finished_at"].is_null()) << d.dump(1);
    if (d["to_commit"] == second && d["machine"] == "test-machine") {
      a_interrupted = d["status"] == "interrupted";
    }
    json full = Api("/api/v1/deployments/" + d["id"].dump());
    EXPECT_EQ(StepNames(full, "running"), std::vector<std::string>{}) << full.dump(1);
  }
  EXPECT_TRUE(a_interrupted) << Deployments().dump(1);

  // A comes back: B keeps the project, and a deploy asked of A goes to B.
  api_port_ = a_api;
  app_port_ = a_app;
  StartAnthill();
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        seen = Project("hello");
        return !seen.is_null() && seen["state"] == "elsewhere" && seen["orchestrator"] == "box-b";
      },
      std::chrono::seconds(20)))
      << seen.dump(1);
  auto [code, body] = Post("/api/v1/projects/hello/deploy", R"({"ref":"main","actor":"alice"})");
  EXPECT_EQ(code, 202) << body;
  EXPECT_NE(body.find("passed on"), std::string::npos) << body;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["machine"] == "box-b" && d["actor"] == "alice" && d["status"] == "succeeded" &&
              d["to_commit"] == second)
            return true;
        }
        return false;
      },
      std::chrono::seconds(60)))
      << Deployments().dump(1);
  StopAnthill();
  api_port_ = b_api;
  StopBuilder("ob");
}

// keep_releases bounds the artifacts kept, as it bounds releases on disk:
// after each success the oldest go, never the one running.
TEST_F(FleetTest, OldArtifactsArePrunedButNeverTheRunningOne) {
  WriteOrchestrator("make", "keep_releases = 1");
  StartAnthill();
  StartBuilder("b1");
  std::vector<std::string> commits = {Head()};
  json d = WaitFinished(commits.back(), std::chrono::seconds(90));
  ASSERT_EQ(d["status"], "succeeded") << d.dump(1);
  for (const char* change : {"two", "three"}) {
    commits.push_back(CommitChange(change));
    d = WaitFinished(commits.back(), std::chrono::seconds(90));
    ASSERT_EQ(d["status"], "succeeded") << d.dump(1);
  }
  const fs::path keys = dir_ / "data/artifacts/keys/hello";
  auto kept = [&] {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& f : fs::directory_iterator(keys, ec)) names.push_back(f.path().filename());
    return names;
  };
  const std::string running = "main-" + commits.back().substr(0, 8) + ".tar.zst";
  ASSERT_TRUE(testing::WaitUntil([&] { return kept() == std::vector<std::string>{running}; },
                                 std::chrono::seconds(20)))
      << ::testing::PrintToString(kept());
  // The record says the old ones went; the running one's is still named.
  json first = Api("/api/v1/deployments/1");
  EXPECT_TRUE(first["build"]["artifact"].is_null()) << first.dump(1);
  json last = Api("/api/v1/deployments/" + d["id"].dump());
  EXPECT_EQ(last["build"]["artifact"]["key"], "hello/" + running) << last.dump(1);
  EXPECT_NE(AppGet("/").find("main-" + commits.back().substr(0, 8)), std::string::npos);
  StopAnthill();
}

// A push's webhook may reach any orchestrator: the one that does not hold
// the project passes it on, and the same delivery sent to the holder too
// is seen as a duplicate (delivery ids are kept in the shared record).
TEST_F(FleetTest, AWebhookDeliveredToBothOrchestratorsDeploysOnce) {
  poll_ = "0";  // only the webhook deploys the push
  const std::string extra = "webhook_secret = \"s3cret\"";
  WriteOrchestrator("make", extra);
  StartAnthill();
  StartBuilder("b1");
  ASSERT_EQ(WaitFinished(Head(), std::chrono::seconds(90))["status"], "succeeded");
  // The second orchestrator's config is the first's with its own ports.
  const int a_api = api_port_;
  const int b_api = StartSecondOrchestrator("make", extra);
  api_port_ = b_api;
  json seen;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        seen = Project("hello");
        return !seen.is_null() && seen["state"] == "elsewhere";
      },
      std::chrono::seconds(20)))
      << seen.dump(1);

  const std::string sha = CommitChange("via a webhook to either");
  json payload{{"ref", "refs/heads/main"},
               {"before", std::string(40, '0')},
               {"after", sha},
               {"deleted", false},
               {"repository", {{"name", "hello"}, {"clone_url", origin().string() + ".git"}}},
               {"pusher", {{"name", "octocat"}}}};
  const std::string body = payload.dump();
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"X-GitHub-Event", "push"},
      {"X-GitHub-Delivery", "delivery-1"},
      {"X-Hub-Signature-256", "sha256=" + watch::HmacSha256Hex("s3cret", body)}};
  auto [status, answer] = Post("/hooks/github", body, headers);  // B: not the holder
  EXPECT_EQ(status, 202) << answer;
  api_port_ = a_api;
  auto [again, again_answer] = Post("/hooks/github", body, headers);  // A: the holder
  EXPECT_EQ(again, 200) << again_answer;
  EXPECT_NE(again_answer.find("duplicate"), std::string::npos) << again_answer;
  json d = WaitFinished(sha, std::chrono::seconds(90));
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["trigger"], "webhook");
  EXPECT_EQ(d["actor"], "octocat");
  EXPECT_EQ(d["machine"], "test-machine");
  int of_sha = 0;
  for (const auto& one : Deployments()) of_sha += one["to_commit"] == sha ? 1 : 0;
  EXPECT_EQ(of_sha, 1) << Deployments().dump(1);
  StopAnthill();
  StopBuilder("ob");
}

// An orchestrator that cannot reach the database stops planning its
// projects before its leases could go to another (the program keeps
// serving), and takes them up again, with a fresh runner, once it can.
TEST_F(FleetTest, AnOrchestratorCutOffFromTheDatabaseStopsPlanningAndComesBack) {
  WriteOrchestrator("make");
  StartAnthill();
  StartBuilder("b1");
  ASSERT_EQ(WaitFinished(Head(), std::chrono::seconds(90))["status"], "succeeded");
  auto log_count = [&](const std::string& what) {
    const std::string log = testing::ReadFile(dir_ / "anthill.log");
    size_t n = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  ASSERT_EQ(log_count("held by this orchestrator"), 1u);

  Sql("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS false");
  Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + database_ + "'");
  ASSERT_TRUE(testing::WaitUntil([&] { return log_count("stopped deploying it here") == 1; },
                                 std::chrono::seconds(30)))
      << testing::ReadFile(dir_ / "anthill.log");
  EXPECT_NE(AppGet("/").find("main-" + Head().substr(0, 8)), std::string::npos)
      << "the program keeps serving";
  Sql("ALTER DATABASE " + database_ + " ALLOW_CONNECTIONS true");
  ASSERT_TRUE(testing::WaitUntil([&] { return log_count("held by this orchestrator") == 2; },
                                 std::chrono::seconds(30)))
      << testing::ReadFile(dir_ / "anthill.log");
  // The project is planned again: a push is deployed, once.
  const std::string next = CommitChange("after the outage");
  json d = WaitFinished(next, std::chrono::seconds(90));
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_NE(AppGet("/").find("main-" + next.substr(0, 8)), std::string::npos);
  int of_next = 0;
  for (const auto& one : Deployments()) of_next += one["to_commit"] == next ? 1 : 0;
  EXPECT_EQ(of_next, 1) << Deployments().dump(1);
  StopAnthill();
}

TEST_F(FleetTest, RolesThatNeedPostgresqlRefuseSqlite) {
  ProjectOptions o;
  o.server_extra = "roles = [\"builder\"]";
  WriteConfig(o);
  auto [code, out] = RunCli({"serve", "-c", config_path_.string()});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("anthill.toml:5: key 'roles' in [server]: roles builder need [server] "
                     "database = \"postgresql://...\""),
            std::string::npos)
      << out;
  auto [code2, out2] =
      RunCli({"serve", "--role", "orchestrator,agent", "-c", config_path_.string()});
  EXPECT_EQ(code2, 2) << out2;
  EXPECT_NE(out2.find("--role: roles orchestrator, agent need [server] database"),
            std::string::npos)
      << out2;
}

}  // namespace
}  // namespace anthill::e2e
