// What the agent's scenario tests share: a fake orchestrator speaking the
// agent API for real over loopback (Anthill's own HTTP server, a long poll
// that waits, reports recorded once per id, artifacts from a real
// LocalArtifactStore through the API's own ServeArtifact), an agent life on
// a loop and thread of its own (stopped cleanly, or killed where it
// stands), and releases made of a small shell script that serves HTTP.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "artifact/local_store.h"
#include "base/event.h"
#include "deploy/agent_protocol.h"
#include "http/message.h"
#include "http/server.h"
#include "store/agent_fleet.h"
#include "testing/testing.h"

namespace anthill::agent {

// An orchestrator's agent API for one machine, on a thread of its own.
// Everything the test thread reads or sets is under a mutex.
class FakeOrchestrator {
 public:
  FakeOrchestrator(const std::filesystem::path& dir, std::string machine, std::string token);
  ~FakeOrchestrator();

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  // The machine's desired state from now on (wakes the long polls).
  void SetDesired(deploy::DesiredState state);
  // From now on, answers `state` at once whatever the agent asks (a stale
  // orchestrator); nullopt: back to normal.
  void AnswerStale(std::optional<deploy::DesiredState> state);
  // The status reports are answered with (200: taken).
  void AnswerReportsWith(int status);

  // Packs `dir` and stores it as `key`: the ref a desired state names.
  artifact::ArtifactRef Publish(const std::filesystem::path& dir, const std::string& key);

  // What the agent said: each report applied (first POST of its id).
  std::vector<store::AgentReport> reports() const;
  // Every step, as the record would hold it: the newest of each key.
  std::vector<store::AgentStep> steps() const;
  // The newest state reported of `project`.
  std::optional<deploy::ProjectReport> state(const std::string& project) const;
  // Counters.
  int polls() const;
  int stale_answers() const;
  int refused_reports() const;
  int duplicate_reports() const;  // POSTs of an id applied before
  int unauthorized() const;       // requests refused for their token
  std::string last_refused_report() const;
  std::string labels_asked() const;

 private:
  boost::asio::awaitable<http::Response> Handle(http::Request r);
  boost::asio::awaitable<http::Response> Desired(http::Request r);
  http::Response Report(const http::Request& r);

  std::string machine_;
  std::string token_;
  std::unique_ptr<artifact::LocalArtifactStore> artifacts_;
  boost::asio::io_context io_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<Event> changed_;  // the loop's: the desired state changed
  bool closing_ = false;            // the loop's: answer long polls at once
  std::thread loop_;

  mutable std::mutex mu_;
  deploy::DesiredState desired_;
  std::optional<deploy::DesiredState> stale_;
  int report_status_ = 200;
  std::set<std::string> applied_ids_;
  std::vector<store::AgentReport> reports_;
  int polls_ = 0;
  int stale_answers_ = 0;
  int refused_reports_ = 0;
  int duplicate_reports_ = 0;
  int unauthorized_ = 0;
  std::string last_refused_report_;
  std::string labels_;
};

// One life of an agent: its own loop on its own thread.
class AgentLife {
 public:
  explicit AgentLife(AgentSettings settings);
  ~AgentLife();
  Status Start();
  // Shutdown(), then waits until it is done.
  void Stop();
  // As close to kill -9 as a test gets: the loop stops where it is, nothing
  // of the agent runs again, its programs keep running.
  void Kill();
  int64_t generation();

 private:
  template <typename F>
  auto OnLoop(F f) {
    std::promise<decltype(f())> p;
    boost::asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }

  boost::asio::io_context io_;
  // The loop runs until Kill(), also once the agent has nothing left to do.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  Agent agent_;
  std::thread loop_;
};

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  AgentSettings Settings() const;
  void StartAgent(const AgentSettings& settings);
  void StartAgent() { StartAgent(Settings()); }

  // A release of "hello" whose run.sh prints its greeting and serves its
  // dir over HTTP on $PORT (version.txt says `version`); `serves` false:
  // it only sleeps, and never passes its check. `before_serving`: shell
  // run first.
  deploy::AgentRelease Release(const std::string& version, bool serves = true,
                               const std::string& before_serving = "");
  // "hello" on this machine: run `run` (fetch it too), health checked over
  // HTTP on ${PORT}.
  deploy::DesiredProject Hello(int64_t deployment_id, const deploy::AgentRelease& run) const;
  deploy::DesiredState State(int64_t generation, std::vector<deploy::DesiredProject> p) const;

  // The version the program on $PORT serves ("" when none answers).
  std::string Serving() const;
  // Waits until the newest state of "hello" satisfies `pred`.
  bool WaitForState(const std::function<bool(const deploy::ProjectReport&)>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The steps of deployment `id`, "name:status" in order of start.
  std::vector<std::string> StepsOf(int64_t id) const;
  // Processes running in the agent's releases of "hello".
  int ProgramsRunning() const;

  testing::TempDir dir_;
  std::unique_ptr<FakeOrchestrator> orchestrator_;
  std::unique_ptr<AgentLife> agent_;
  int port_ = 0;
  int releases_made_ = 0;
};

}  // namespace anthill::agent
