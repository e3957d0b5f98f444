// What the fleet's end-to-end tests share: a real PostgreSQL 15 made for
// the test, the orchestrator's config over it, builders (role builder) as
// their own `anthill serve` processes with their own data dirs, S3 through
// s3rver, a second orchestrator, and SQL as the server's superuser.
#pragma once

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "testing/postgres.h"
#include "testing/s3rver.h"
#include "tests/e2e/harness.h"

namespace anthill::e2e {

namespace fs = std::filesystem;

class FleetHarness : public AnthillTest {
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
      for (const auto& [name, child] : builders_) {
        std::cerr << "---- " << name << "/anthill.log ----\n"
                  << testing::ReadFile(dir_ / name / "anthill.log");
      }
      if (s3_) std::cerr << "---- s3rver.log ----\n" << s3_->Log();
    }
    AnthillTest::TearDown();
  }

  // The orchestrator's config; `build` is the project's build command.
  void WriteOrchestrator(const std::string& build, const std::string& project_extra = "") {
    ProjectOptions o;
    o.extra = project_extra;
    o.build = build;
    WriteOrchestrator(o);
  }
  // The same with every project option given (its poll and [server] keys set here).
  void WriteOrchestrator(ProjectOptions o) {
    o.poll = poll_;
    o.server_extra = "database = \"" + pg_.TcpUrl(database_) +
                     "\"\nroles = [\"orchestrator\", \"agent\"]\n" + artifacts_;
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
                           "\"\nlabels = [" + labels + "]\n" + artifacts_);
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

  // Artifacts in an S3 bucket (s3rver) every process reaches, under
  // `prefix`: what several orchestrators need ([artifacts] below [server];
  // "" for the default). s3rver's credentials go into this process's
  // environment, which every process the test starts inherits.
  void UseS3(const std::string& prefix = "fleet") {
    s3_.emplace();
    ASSERT_TRUE(s3_->ok()) << s3_->error();
    s3_prefix_ = prefix;
    setenv("AWS_ACCESS_KEY_ID", testing::S3rver::kAccessKeyId, 1);
    setenv("AWS_SECRET_ACCESS_KEY", testing::S3rver::kSecretAccessKey, 1);
    artifacts_ = "\n[artifacts]\nstore = \"s3://" + std::string(kS3Bucket) + "/" + prefix +
                 "\"\nendpoint = \"" + s3_->Endpoint() + "\"\nregion = \"us-east-1\"\n";
  }

  // Starts a second orchestrator (machine box-b, its own ports and data
  // dir, the same project) with the config WriteOrchestrator(build) writes;
  // leaves api_port_ and app_port_ as they were. Its API port is returned.
  int StartSecondOrchestrator(const std::string& build, const std::string& project_extra = "") {
    ProjectOptions o;
    o.build = build;
    o.extra = project_extra;
    return StartSecondOrchestrator(o);
  }
  // The same with every project option given.
  int StartSecondOrchestrator(const ProjectOptions& options) {
    const int a_api = api_port_, a_app = app_port_;
    const int b_api = testing::FreePort();
    api_port_ = b_api;
    app_port_ = b_app_ = testing::FreePort();
    WriteOrchestrator(options);
    std::string config = testing::ReadFile(config_path_);
    const std::string machine = "machine = \"test-machine\"";
    config.replace(config.find(machine), machine.size(), "machine = \"box-b\"");
    fs::create_directories(dir_ / "ob");
    testing::WriteFile(dir_ / "ob" / "anthill.toml", config);
    api_port_ = a_api;
    app_port_ = a_app;
    WriteOrchestrator(options);
    os::SpawnOptions o;
    o.argv = {ANTHILL_BINARY, "serve", "-c", (dir_ / "ob" / "anthill.toml").string()};
    o.cwd = dir_ / "ob";
    o.env = os::CurrentEnvironment();
    o.output = dir_ / "ob" / "anthill.log";
    auto b = os::Spawn(o);
    EXPECT_TRUE(b.ok()) << b.error();
    if (b.ok()) builders_["ob"] = std::make_unique<os::Child>(std::move(b.value()));
    return b_api;
  }

  // Runs `sql` as the server's superuser, on the "postgres" database.
  void Sql(const std::string& sql) {
    PGconn* c = PQconnectdb(pg_.ConnectionString("postgres").c_str());
    ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType status = PQresultStatus(r);
    EXPECT_TRUE(status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        << sql << ": " << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
  }

  testing::Postgres pg_;
  std::string poll_ = "100ms";
  int b_app_ = 0;
  static constexpr char kS3Bucket[] = "anthill";
  std::optional<testing::S3rver> s3_;
  std::string s3_prefix_;
  std::string artifacts_;
  std::string database_;
  fs::path marks_;
  std::map<std::string, std::unique_ptr<os::Child>> builders_;
};

}  // namespace anthill::e2e
