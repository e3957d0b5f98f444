// A fleet whose artifacts go through S3: a real PostgreSQL 15, a real
// s3rver (npm's S3 stand-in), one orchestrator (roles orchestrator + agent)
// and one builder (role builder), each its own `anthill serve` process with
// its own data dir and [artifacts] store = "s3://anthill/some-prefix". The
// builder uploads the packed release to the bucket itself; the orchestrator
// downloads it from there, checks its size and SHA-256 and unpacks it.
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>

#include "base/strings.h"
#include "tests/e2e/fleet_harness.h"

namespace anthill::e2e {
namespace {

namespace fs = std::filesystem;

constexpr char kPrefix[] = "some-prefix";

// A transaction of the test's own that holds a deployment's build_jobs rows
// FOR UPDATE: until it ends, the builder's report of the job (an UPDATE of
// that row, PgBuildQueue::Finish) waits, so the orchestrator, which
// downloads only once the job is finished, cannot download yet. Reads of
// the row (the orchestrator's, the API's) are not held up.
class JobRowLock {
 public:
  JobRowLock(const std::string& url, int64_t deployment_id) {
    conn_ = PQconnectdb(url.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
      error_ = "cannot connect: " + std::string(PQerrorMessage(conn_));
      return;
    }
    if (!Exec("BEGIN")) return;
    PGresult* r = PQexec(conn_, ("SELECT id, status FROM build_jobs WHERE deployment_id = " +
                                 std::to_string(deployment_id) + " FOR UPDATE")
                                    .c_str());
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      error_ = "SELECT ... FOR UPDATE: " + std::string(PQerrorMessage(conn_));
    } else {
      for (int i = 0; i < PQntuples(r); ++i) statuses_.push_back(PQgetvalue(r, i, 1));
    }
    PQclear(r);
  }
  ~JobRowLock() {
    if (conn_ != nullptr) PQfinish(conn_);  // a transaction still open is rolled back
  }
  JobRowLock(const JobRowLock&) = delete;
  JobRowLock& operator=(const JobRowLock&) = delete;

  const std::string& error() const { return error_; }
  // The status of each row held ("running", ...).
  const std::vector<std::string>& statuses() const { return statuses_; }
  // Ends the transaction: the builder's report goes through.
  bool Release() {
    bool ok = Exec("COMMIT");
    PQfinish(conn_);
    conn_ = nullptr;
    return ok;
  }

 private:
  bool Exec(const char* sql) {
    PGresult* r = PQexec(conn_, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) error_ = std::string(sql) + ": " + PQerrorMessage(conn_);
    PQclear(r);
    return ok;
  }

  PGconn* conn_ = nullptr;
  std::string error_;
  std::vector<std::string> statuses_;
};

class S3FleetTest : public FleetHarness {
 protected:
  void SetUp() override {
    FleetHarness::SetUp();
    UseS3(kPrefix);
  }

  // The orchestrator (roles orchestrator + agent), artifacts in s3rver;
  // `build` is the project's build command.
  void StartOrchestrator(const std::string& build) {
    WriteOrchestrator(build);
    StartAnthill();
  }

  static json StepNamed(const json& d, const std::string& name) {
    for (const auto& s : d["steps"]) {
      if (s["name"] == name) return s;
    }
    return nullptr;
  }

  // The file s3rver keeps an artifact's bytes in.
  fs::path Object(const std::string& key) const {
    return s3_->ObjectFile(kS3Bucket, std::string(kPrefix) + "/" + key);
  }
  std::string Sha256Of(const fs::path& file) {
    return std::string(Trim(testing::Sh(dir_.path(), "sha256sum '" + file.string() + "'")))
        .substr(0, 64);
  }
  // The deployment of `commit` once it is in the record (running or not).
  int64_t DeploymentOf(const std::string& commit) {
    int64_t id = 0;
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          for (const auto& d : Deployments()) {
            if (d["to_commit"] == commit) id = d["id"].get<int64_t>();
          }
          return id != 0;
        },
        std::chrono::seconds(20)))
        << "no deployment of " << commit << ": " << Deployments().dump(1);
    return id;
  }

  // Checks a deployment's build in the API against the object in s3rver.
  void ExpectArtifactInS3(int64_t id, const std::string& commit) {
    json one = Api("/api/v1/deployments/" + std::to_string(id));
    ASSERT_TRUE(one.contains("build") && one["build"].is_object()) << one.dump(1);
    const json& build = one["build"];
    EXPECT_EQ(build["status"], "succeeded") << one.dump(1);
    EXPECT_EQ(build["builder"], "b1") << one.dump(1);
    ASSERT_TRUE(build["artifact"].is_object()) << one.dump(1);
    const std::string key = build["artifact"]["key"];
    const std::string sha256 = build["artifact"]["sha256"];
    const int64_t size = build["artifact"]["size"];
    EXPECT_EQ(key, "hello/main-" + commit.substr(0, 8) + ".tar.zst");
    EXPECT_EQ(sha256.size(), 64u);
    EXPECT_GT(size, 0);
    const fs::path object = Object(key);
    ASSERT_TRUE(fs::exists(object)) << object << " is not in s3rver's data";
    EXPECT_EQ(static_cast<int64_t>(fs::file_size(object)), size);
    EXPECT_EQ(Sha256Of(object), sha256);
    // The digest also rides with the object as metadata.
    EXPECT_NE(s3_->ObjectMetadata(kS3Bucket, std::string(kPrefix) + "/" + key).find(sha256),
              std::string::npos)
        << s3_->ObjectMetadata(kS3Bucket, std::string(kPrefix) + "/" + key);
  }
};

TEST_F(S3FleetTest, BuildersUploadToS3AndTheOrchestratorDeploysFromIt) {
  StartOrchestrator("make");
  StartBuilder("b1");
  const std::string first = Head();
  json d1 = WaitFinished(first, std::chrono::seconds(45));
  ASSERT_FALSE(d1.is_null());
  EXPECT_EQ(d1["status"], "succeeded") << d1.dump(1);
  EXPECT_EQ(StepNames(d1), (std::vector<std::string>{"fetch", "build", "test", "release", "upload",
                                                     "download", "start", "healthcheck"}))
      << d1.dump(1);
  ExpectArtifactInS3(d1["id"].get<int64_t>(), first);
  EXPECT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);

  // A push: the builder builds it, uploads it beside the first, and the
  // orchestrator deploys it from the bucket.
  const std::string second = CommitChange("second, through S3");
  json d2 = WaitFinished(second, std::chrono::seconds(45));
  ASSERT_FALSE(d2.is_null());
  EXPECT_EQ(d2["status"], "succeeded") << d2.dump(1);
  ExpectArtifactInS3(d2["id"].get<int64_t>(), second);
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
  EXPECT_TRUE(fs::exists(Object("hello/main-" + first.substr(0, 8) + ".tar.zst")));

  // Nothing went through the orchestrator's own store, and it built nothing.
  EXPECT_FALSE(fs::exists(dir_ / "data/artifacts"));
  EXPECT_FALSE(fs::exists(dir_ / "data/projects/hello/workspace"));
  // The deployment's log says where the artifact came from.
  const std::string log = ApiText("/api/v1/deployments/" + d2["id"].dump() + "/log");
  EXPECT_NE(log.find("built by b1"), std::string::npos) << log;
  StopAnthill();
}

TEST_F(S3FleetTest, ATamperedArtifactIsRefusedAndTheRunningVersionStays) {
  // Each commit's build waits for the test's word, so that the test can
  // hold the job's row before the builder may report it.
  StartOrchestrator("until [ -f " + marks_.string() +
                    "/go-$ANTHILL_COMMIT ]; do sleep 0.05; done; make");
  const std::string first = Head();
  testing::WriteFile(marks_ / ("go-" + first), "");
  StartBuilder("b1");
  json d1 = WaitFinished(first, std::chrono::seconds(45));
  ASSERT_FALSE(d1.is_null());
  ASSERT_EQ(d1["status"], "succeeded") << d1.dump(1);
  json before = Project();
  ASSERT_FALSE(before.is_null());
  const int64_t pid = before["pid"];
  ASSERT_GT(pid, 0) << before.dump(1);
  ASSERT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);

  // The second commit: once its build runs (the builder holds the job), the
  // test holds the job's row; the builder builds, uploads and then waits to
  // report; the test tampers with the uploaded object and lets go.
  const std::string second = CommitChange("second, to be tampered with");
  const int64_t id = DeploymentOf(second);
  ASSERT_GT(id, 0);
  ASSERT_TRUE(WaitStep(id, "build", "running")) << Api("/api/v1/deployments/" + std::to_string(id));
  JobRowLock lock(pg_.TcpUrl(database_), id);
  ASSERT_EQ(lock.error(), "");
  ASSERT_EQ(lock.statuses(), std::vector<std::string>{"running"});
  testing::WriteFile(marks_ / ("go-" + second), "");
  ASSERT_TRUE(WaitStep(id, "upload", "succeeded"))
      << Api("/api/v1/deployments/" + std::to_string(id)).dump(1);
  const fs::path object = Object("hello/main-" + second.substr(0, 8) + ".tar.zst");
  ASSERT_TRUE(fs::exists(object));
  const auto size = fs::file_size(object);
  const std::string good_sha256 = Sha256Of(object);
  {
    // One byte flipped in the middle: same size, another SHA-256.
    std::fstream f(object, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(static_cast<std::streamoff>(size / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put(static_cast<char>(c ^ 0x5a));
    ASSERT_TRUE(f.good());
  }
  ASSERT_NE(Sha256Of(object), good_sha256);
  ASSERT_EQ(fs::file_size(object), size);
  // The job is still running for the orchestrator: nothing was downloaded
  // before the tampering.
  json held = Api("/api/v1/deployments/" + std::to_string(id));
  EXPECT_EQ(held["build"]["status"], "running") << held.dump(1);
  EXPECT_TRUE(StepNamed(held, "download").is_null()) << held.dump(1);
  ASSERT_TRUE(lock.Release()) << lock.error();

  json d2 = WaitDeploymentEnded(id, std::chrono::seconds(30));
  EXPECT_EQ(d2["status"], "failed") << d2.dump(1);
  json download = StepNamed(d2, "download");
  ASSERT_FALSE(download.is_null()) << d2.dump(1);
  EXPECT_EQ(download["status"], "failed") << d2.dump(1);
  const std::string why = download["error"];
  EXPECT_NE(why.find("checksum mismatch"), std::string::npos) << why;
  EXPECT_NE(why.find("expected sha256 " + good_sha256), std::string::npos) << why;
  EXPECT_NE(d2["error"].get<std::string>().find("checksum mismatch"), std::string::npos)
      << d2.dump(1);
  // It never reached the running program.
  EXPECT_TRUE(StepNamed(d2, "stop").is_null()) << d2.dump(1);
  EXPECT_TRUE(StepNamed(d2, "start").is_null()) << d2.dump(1);

  // The first version still runs, the same process, and answers.
  json after = Project();
  EXPECT_EQ(after["pid"], pid) << after.dump(1);
  EXPECT_EQ(after["commit"], first) << after.dump(1);
  EXPECT_TRUE(ProcessAlive(pid));
  EXPECT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);
  // No release of the tampered build on the orchestrator, not even a part of
  // one, and no download left in its tmp dir.
  json build = Api("/api/v1/deployments/" + std::to_string(id))["build"];
  const std::string release = build.is_object() ? build["release"].get<std::string>() : "";
  EXPECT_FALSE(release.empty()) << build.dump(1);
  for (const auto& e : fs::directory_iterator(dir_ / "data/projects/hello/releases")) {
    EXPECT_EQ(e.path().filename().string().find(second.substr(0, 12)), std::string::npos)
        << e.path();
  }
  if (fs::exists(dir_ / "data/tmp")) {
    for (const auto& e : fs::directory_iterator(dir_ / "data/tmp")) {
      EXPECT_EQ(e.path().filename().string().find("download-" + std::to_string(id)),
                std::string::npos)
          << e.path();
    }
  }
  StopAnthill();
}

}  // namespace
}  // namespace anthill::e2e
