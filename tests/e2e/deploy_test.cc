// The single-machine deploy loop, end to end: real git, real builds, the real
// anthill binary, a real HTTP program on loopback.
#include <signal.h>

#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

std::vector<std::string> StepNames(const json& d) {
  std::vector<std::string> names;
  for (const auto& s : d["steps"]) names.push_back(s["name"]);
  return names;
}

const json* FindStep(const json& d, const std::string& name) {
  for (const auto& s : d["steps"]) {
    if (s["name"] == name) return &s;
  }
  return nullptr;
}

TEST_F(AnthillTest, FirstDeployServesTheCommitAndRecordsEveryStep) {
  std::string sha = Head();
  StartAnthill();
  json d = WaitFinished(sha);
  ASSERT_FALSE(d.is_null());
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["project"], "hello");
  EXPECT_EQ(d["machine"], "test-machine");
  EXPECT_EQ(d["from_version"], "");
  EXPECT_EQ(d["to_version"], "main-" + sha.substr(0, 8));
  EXPECT_EQ(d["to_commit"], sha);
  EXPECT_EQ(d["trigger"], "poll");
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"fetch", "build", "test", "release", "start",
                                                    "healthcheck"}));
  for (const auto& s : d["steps"]) {
    EXPECT_EQ(s["status"], "succeeded") << s.dump();
    EXPECT_FALSE(s["started_at"].is_null());
    EXPECT_FALSE(s["finished_at"].is_null());
    EXPECT_EQ(s["to_version"], d["to_version"]);
    EXPECT_EQ(s["machine"], "test-machine");
    EXPECT_EQ(s["project"], "hello");
  }
  EXPECT_NE(AppGet("/").find("hello from main-" + sha.substr(0, 8)), std::string::npos);

  json p = Project();
  EXPECT_EQ(p["state"], "running");
  EXPECT_EQ(p["version"], "main-" + sha.substr(0, 8));
  EXPECT_TRUE(ProcessAlive(p["pid"].get<int64_t>()));
  // The release is a real dir and `current` points at it.
  auto current = std::filesystem::read_symlink(dir_ / "data/projects/hello/current");
  EXPECT_EQ(current.filename().string(), d["release"].get<std::string>());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "data/projects/hello/current/hello"));
}

TEST_F(AnthillTest, NewCommitRedeploysWithANewProcess) {
  std::string first = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  int64_t old_pid = Project()["pid"];

  std::string second = CommitChange("second");
  json d = WaitFinished(second);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["from_version"], "main-" + first.substr(0, 8));
  EXPECT_EQ(d["from_commit"], first);
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"fetch", "build", "test", "release", "stop",
                                                    "start", "healthcheck"}));
  json p = Project();
  EXPECT_NE(p["pid"].get<int64_t>(), old_pid);
  EXPECT_FALSE(ProcessAlive(old_pid));
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
}

TEST_F(AnthillTest, FailedBuildKeepsTheOldVersionServingAndIsNotRetried) {
  std::string good = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(good)["status"], "succeeded");
  int64_t pid = Project()["pid"];

  testing::WriteFile(origin() / "hello.c", "this is not C\n");
  std::string broken = Commit("break the build");
  json d = WaitFinished(broken);
  EXPECT_EQ(d["status"], "failed");
  std::string error = d["error"];
  EXPECT_EQ(error.rfind("build failed (exit 2) after ", 0), 0u) << error;
  EXPECT_NE(error.find("; see `anthill logs hello --build " +
                       std::to_string(d["id"].get<int64_t>()) + "`"),
            std::string::npos)
      << error;
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"fetch", "build"}));
  EXPECT_EQ(d["steps"][1]["status"], "failed");
  // The old version never noticed.
  EXPECT_EQ(Project()["pid"].get<int64_t>(), pid);
  EXPECT_NE(AppGet("/").find("main-" + good.substr(0, 8)), std::string::npos);
  // The log says why.
  std::string log =
      ApiText("/api/v1/deployments/" + std::to_string(d["id"].get<int64_t>()) + "/log");
  EXPECT_NE(log.find("==> build: make"), std::string::npos) << log;
  EXPECT_NE(log.find("error"), std::string::npos) << log;

  // A newer commit deploys; the broken one was tried exactly once.
  testing::Sh(origin(), "git checkout -q " + good + " -- hello.c");
  std::string fixed = Commit("fix the build");
  EXPECT_EQ(WaitFinished(fixed)["status"], "succeeded");
  int attempts = 0;
  for (const auto& x : Deployments()) attempts += x["to_commit"] == broken;
  EXPECT_EQ(attempts, 1);
}

TEST_F(AnthillTest, CrashingVersionIsRolledBack) {
  std::string good = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(good)["status"], "succeeded");

  std::string bad = CommitMode("crash");
  json d = WaitFinished(bad);
  EXPECT_EQ(d["status"], "rolled_back") << d.dump(1);
  EXPECT_EQ(d["error"],
            "exited during health check (exit 3); its last output: hello: crashing on purpose");
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"fetch", "build", "test", "release", "stop",
                                                    "start", "healthcheck", "rollback"}));
  EXPECT_EQ((*FindStep(d, "healthcheck"))["status"], "failed");
  EXPECT_EQ((*FindStep(d, "rollback"))["status"], "succeeded");
  json p = Project();
  EXPECT_EQ(p["version"], "main-" + good.substr(0, 8));
  EXPECT_EQ(p["state"], "running");
  EXPECT_NE(AppGet("/").find("main-" + good.substr(0, 8)), std::string::npos);
  auto current = std::filesystem::read_symlink(dir_ / "data/projects/hello/current");
  EXPECT_NE(current.filename().string().find(good.substr(0, 12)), std::string::npos);
}

TEST_F(AnthillTest, UnhealthyVersionIsRolledBackAfterTheHealthTimeout) {
  std::string good = Head();
  WriteConfig({.health = "{ http = \"http://127.0.0.1:" + std::to_string(app_port_) +
                         "/healthz\", timeout = \"1s\", interval = \"50ms\" }"});
  StartAnthill();
  ASSERT_EQ(WaitFinished(good)["status"], "succeeded");

  std::string bad = CommitMode("unhealthy");
  json d = WaitFinished(bad);
  EXPECT_EQ(d["status"], "rolled_back") << d.dump(1);
  std::string error = d["error"];
  EXPECT_EQ(error.rfind("health check failed after ", 0), 0u) << error;
  EXPECT_NE(error.find("/healthz: status 500"), std::string::npos) << error;
  EXPECT_NE(AppGet("/").find("main-" + good.substr(0, 8)), std::string::npos);
}

TEST_F(AnthillTest, FirstVersionThatCrashesFailsWithNothingToRollBackTo) {
  std::string bad = CommitMode("crash");
  StartAnthill();
  json d = WaitFinished(bad);
  EXPECT_EQ(d["status"], "failed") << d.dump(1);
  EXPECT_EQ(d["error"],
            "exited during health check (exit 3); its last output: hello: crashing on purpose; no "
            "previous release to roll back to");
  EXPECT_EQ(Project()["state"], "stopped");
}

TEST_F(AnthillTest, ProgramThatIgnoresSigtermIsKilledAfterStopTimeout) {
  WriteConfig({.stop_timeout = "1s"});
  std::string stubborn = CommitMode("ignore-term");
  StartAnthill();
  ASSERT_EQ(WaitFinished(stubborn)["status"], "succeeded");
  int64_t old_pid = Project()["pid"];

  testing::Sh(origin(), "git rm -q mode");
  std::string next = Commit("behave again");
  json d = WaitFinished(next);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  const json* stop = FindStep(d, "stop");
  ASSERT_NE(stop, nullptr);
  // It took the whole stop_timeout: SIGTERM was ignored, SIGKILL ended it.
  EXPECT_GE((*stop)["duration_ms"].get<int64_t>(), 1000);
  EXPECT_FALSE(ProcessAlive(old_pid));
  EXPECT_NE(AppGet("/").find("main-" + next.substr(0, 8)), std::string::npos);
}

TEST_F(AnthillTest, RestartedAnthillAdoptsTheRunningProgramWithoutRedeploying) {
  std::string sha = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(sha)["status"], "succeeded");
  int64_t pid = Project()["pid"];
  StopAnthill();
  // The program does not depend on Anthill staying alive.
  EXPECT_TRUE(ProcessAlive(pid));
  EXPECT_NE(AppGet("/").find("main-" + sha.substr(0, 8)), std::string::npos);

  StartAnthill();
  ASSERT_TRUE(testing::WaitUntil([&] {
    json p = Project();
    return !p.is_null() && p["state"] == "running";
  }));
  EXPECT_EQ(Project()["pid"].get<int64_t>(), pid);
  EXPECT_EQ(Deployments().size(), 1u);
}

TEST_F(AnthillTest, CliListsStatusAndDeployments) {
  std::string sha = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(sha)["status"], "succeeded");
  auto [code, out] = RunCli({"status", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("hello"), std::string::npos) << out;
  EXPECT_NE(out.find("main-" + sha.substr(0, 8)), std::string::npos) << out;
  auto [code2, out2] = RunCli({"deployments", "hello", "--json", "-c", config_path_.string()});
  EXPECT_EQ(code2, 0) << out2;
  json list = json::parse(out2, nullptr, false);
  ASSERT_TRUE(list.is_array()) << out2;
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["status"], "succeeded");
  auto [code3, out3] = RunCli({"deployments", "-c", config_path_.string()});
  EXPECT_EQ(code3, 0);
  EXPECT_NE(out3.find("succeeded"), std::string::npos) << out3;
  EXPECT_NE(out3.find("fetch build test release start healthcheck"), std::string::npos) << out3;
}

// The page itself is JavaScript rendering the API (tests/browser drive it in
// Chromium); here: the binary serves it and its modules with nothing else
// installed.
TEST_F(AnthillTest, TheWebUiIsServedFromTheBinary) {
  std::string sha = Head();
  StartAnthill();
  ASSERT_EQ(WaitFinished(sha)["status"], "succeeded");
  for (const char* target :
       {"/deployments", "/deployments/1", "/projects", "/ui/common.js", "/ui/deployments.js",
        "/ui/deployment.js", "/ui/projects.js", "/ui/app.css"}) {
    int status = 0;
    std::string body = ApiText(target, &status);
    EXPECT_EQ(status, 200) << target;
    EXPECT_FALSE(body.empty()) << target;
  }
  EXPECT_NE(ApiText("/deployments").find("<script type=\"module\" src=\"/ui/deployments.js\">"),
            std::string::npos);
  int status = 0;
  ApiText("/deployments/abc", &status);
  EXPECT_EQ(status, 404);
}

}  // namespace
}  // namespace anthill::e2e
