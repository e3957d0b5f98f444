// A fleet on one box: a real PostgreSQL 15, one orchestrator (roles
// orchestrator + agent) and two builders (role builder), each its own
// `anthill serve` process with its own data dir. Builds go through the
// queue in PostgreSQL; the builder that takes a job packs the release and
// uploads it to the orchestrator, which downloads, verifies and unpacks it
// before the swap.
#include <signal.h>
#include <sys/wait.h>

#include <map>

#include "testing/postgres.h"
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

namespace fs = std::filesystem;

class FleetTest : public AnthillTest {
 protected:
  void SetUp() override {
    AnthillTest::SetUp();
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    database_ = pg_.CreateDatabase();
    ASSERT_FALSE(database_.empty());
    marks_ = dir_ / "marks";
    fs::create_directories(marks_);
  }
  void TearDown() override {
    for (auto& [name, child] : builders_) StopBuilder(name);
    if (HasFailure()) {
      for (const char* name : {"b1", "b2"}) {
        std::cerr << "---- " << name << "/anthill.log ----\n"
                  << testing::ReadFile(dir_ / name / "anthill.log");
      }
    }
    AnthillTest::TearDown();
  }

  // The orchestrator's config; `build` is the project's build command.
  void WriteOrchestrator(const std::string& build, const std::string& project_extra = "") {
    ProjectOptions o;
    o.extra = project_extra;
    o.server_extra =
        "database = \"" + pg_.TcpUrl(database_) + "\"\nroles = [\"orchestrator\", \"agent\"]";
    o.build = build;
    WriteConfig(o);
  }

  void StartBuilder(const std::string& name, const std::string& labels = "") {
    const fs::path home = dir_ / name;
    fs::create_directories(home);
    testing::WriteFile(home / "anthill.toml",
                       "[server]\ndata_dir = \"data\"\nmachine = \"" + name +
                           "-box\"\ndatabase = \"" + pg_.TcpUrl(database_) +
                           "\"\nroles = [\"builder\"]\n\n[builder]\nname = \"" + name +
                           "\"\norchestrator = \"http://127.0.0.1:" + std::to_string(api_port_) +
                           "\"\nlabels = [" + labels + "]\n");
    os::SpawnOptions o;
    o.argv = {ANTHILL_BINARY, "serve", "-c", (home / "anthill.toml").string()};
    o.cwd = home;
    o.env = os::CurrentEnvironment();
    o.output = home / "anthill.log";
    auto child = os::Spawn(o);
    ASSERT_TRUE(child.ok()) << child.error();
    builders_[name] = std::make_unique<os::Child>(std::move(child.value()));
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          return testing::ReadFile(home / "anthill.log").find("builder " + name + ": registered") !=
                 std::string::npos;
        },
        std::chrono::seconds(20)))
        << testing::ReadFile(home / "anthill.log");
  }
  void StopBuilder(const std::string& name) {
    auto& child = builders_[name];
    if (!child) return;
    kill(child->pid(), SIGTERM);
    int status = 0;
    waitpid(child->pid(), &status, 0);
    child.reset();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << name << " did not stop cleanly: status " << status;
  }
  void KillBuilder(const std::string& name) {
    auto& child = builders_[name];
    kill(child->pid(), SIGKILL);
    int status = 0;
    waitpid(child->pid(), &status, 0);
    child.reset();
  }

  static std::vector<std::string> StepNames(const json& d, const std::string& status = "") {
    std::vector<std::string> out;
    for (const auto& s : d["steps"]) {
      if (status.empty() || s["status"] == status) out.push_back(s["name"]);
    }
    return out;
  }

  testing::Postgres pg_;
  std::string database_;
  fs::path marks_;
  std::map<std::string, std::unique_ptr<os::Child>> builders_;
};

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
        for (const char* name : {"b1", "b2"}) {
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
