// End-to-end harness: a real origin git repository made from examples/hello,
// a real `anthill serve` process on loopback, and helpers to read its API
// and the deployed program's answers. Tests wait on conditions with deadlines.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "os/process.h"
#include "testing/testing.h"

namespace anthill::e2e {

using nlohmann::json;

struct ProjectOptions {
  std::string extra;   // more keys for the [[project]] table
  std::string health;  // health = {...}; default: http on the app port
  std::string stop_timeout = "2s";
  std::string poll = "100ms";
  std::string rule = "branch = \"main\"";  // or tags = "release-*"
  std::string build = "make";
  std::string run;           // default: "./hello --port <app port>"
  std::string server_extra;  // more keys for [server]
};

class AnthillTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The origin repository: a copy of examples/hello, committed on main.
  std::filesystem::path origin() const { return dir_ / "origin"; }
  // The commit origin's main points at (40 hex).
  std::string Head() const;
  // Commits the current state of origin/ with message; returns the full sha.
  std::string Commit(const std::string& message);
  // Changes the greeting so the next commit differs, and commits.
  std::string CommitChange(const std::string& message);
  // Writes `mode` (crash, ignore-term, unhealthy, ...) into origin and commits.
  std::string CommitMode(const std::string& mode);

  std::string WriteConfig(const ProjectOptions& opts = {});
  void StartAnthill();
  // SIGTERM to anthill and wait for it to exit.
  void StopAnthill();
  // SIGKILL to anthill (a crash at any moment) and reap it.
  void KillAnthill();
  // Runs the anthill binary with args; returns {exit code, output}.
  std::pair<int, std::string> RunCli(const std::vector<std::string>& args);
  // POST to anthill's API (or a hook) with extra headers; {status, body}.
  std::pair<int, std::string> Post(
      const std::string& target, const std::string& body,
      const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Waits for a deployment with id to end; returns it.
  json WaitDeploymentEnded(int64_t id, std::chrono::seconds timeout = std::chrono::seconds(60));
  // Waits until deployment id has a step `name` with status `status`.
  bool WaitStep(int64_t id, const std::string& name, const std::string& status,
                std::chrono::seconds timeout = std::chrono::seconds(30));

  // GET on anthill's API; parsed JSON (null on error).
  json Api(const std::string& target);
  std::string ApiText(const std::string& target, int* status = nullptr);
  json Deployments(const std::string& query = "");
  // Waits for a deployment of `commit` that has finished; returns it (or
  // null after the deadline, failing the test).
  json WaitFinished(const std::string& commit,
                    std::chrono::seconds timeout = std::chrono::seconds(60));
  json Project(const std::string& name = "hello");
  // GET on the deployed app; empty string when it does not answer.
  std::string AppGet(const std::string& path);
  bool ProcessAlive(int64_t pid);

  testing::TempDir dir_;
  int api_port_ = 0;
  int app_port_ = 0;
  std::filesystem::path config_path_;
  std::unique_ptr<os::Child> anthill_;
};

}  // namespace anthill::e2e
