// A rollout against an in-memory AgentFleet and simulated agents:
// coroutines on the test's loop that read their desired state as a real
// agent does (WaitDesired, DesiredOf) and report through ApplyReport, each
// told what goes wrong on its machine.
#include "deploy/rollout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <memory>
#include <set>

#include "base/event.h"

namespace anthill::deploy {
namespace {

namespace asio = boost::asio;
using MS = store::MachineRolloutStatus;

// The store as the rollout sees it, in memory; every change is logged (in
// `log`) so a test can check what happened in which order.
class FakeFleet : public store::AgentFleet {
 public:
  explicit FakeFleet(asio::any_io_executor executor) : executor_(std::move(executor)) {}

  std::vector<store::AgentRow> agents;
  std::map<std::pair<std::string, std::string>, store::DesiredRow> rows;  // (machine, project)
  std::map<std::string, int64_t> generations;
  std::map<std::pair<int64_t, std::string>, store::DeploymentMachine> machines;
  std::vector<std::vector<store::DesiredChange>> set_calls;
  // "desired web-1 run 20261128T2222", "report web-1 run succeeded", ...
  std::vector<std::string> log;

  void Add(const std::string& name, std::vector<std::string> labels, bool revoked = false) {
    store::AgentRow a;
    a.name = name;
    a.labels = std::move(labels);
    if (revoked) a.revoked_at = Now();
    a.last_seen_at = Now();  // answering; a silent one is set back by the test
    agents.push_back(a);
  }
  // The desired row of (machine, project) as a person would set it before.
  void Preset(const std::string& machine, const std::string& project, const std::string& desired,
              const std::string& reported) {
    store::DesiredRow& row = rows[{machine, project}];
    row.machine = machine;
    row.project = project;
    row.generation = ++generations[machine];
    row.desired = desired;
    row.reported = reported;
  }
  std::string Desired(const std::string& machine, const std::string& project) {
    return rows[{machine, project}].desired;
  }

  Awaitable<Status> AddAgent(std::string, std::string) override { co_return Status::Ok(); }
  Awaitable<Status> RevokeAgent(std::string) override { co_return Status::Ok(); }
  Awaitable<Result<bool>> CheckToken(std::string, std::string) override { co_return true; }
  Awaitable<Result<std::vector<store::AgentRow>>> Agents() override { co_return agents; }
  Awaitable<Status> Seen(std::string, std::vector<std::string>) override { co_return Status::Ok(); }

  Awaitable<Status> SetDesired(std::vector<store::DesiredChange> changes) override {
    set_calls.push_back(changes);
    std::set<std::string> touched;
    for (const auto& c : changes) touched.insert(c.machine);
    for (const auto& machine : touched) ++generations[machine];
    for (const auto& c : changes) {
      store::DesiredRow& row = rows[{c.machine, c.project}];
      row.machine = c.machine;
      row.project = c.project;
      row.generation = generations[c.machine];
      row.desired = c.desired;
      auto d = ParseDesiredProject(c.desired);
      log.push_back("desired " + c.machine +
                    (d.ok() && d->run ? " run " + d->run->release : std::string(" no run")));
    }
    Wake(desired_waiters_);
    co_return Status::Ok();
  }
  Awaitable<Result<std::pair<int64_t, std::vector<store::DesiredRow>>>> DesiredOf(
      std::string machine) override {
    std::vector<store::DesiredRow> out;
    for (const auto& [key, row] : rows) {
      if (key.first == machine) out.push_back(row);
    }
    co_return std::make_pair(generations[machine], out);
  }
  Awaitable<Result<std::vector<store::DesiredRow>>> DesiredOfProject(std::string project) override {
    std::vector<store::DesiredRow> out;
    for (const auto& [key, row] : rows) {
      if (key.second == project) out.push_back(row);
    }
    co_return out;
  }
  // Every row each time (a store may send a row again unchanged).
  Awaitable<Result<ReportsRead>> ReportsOf(std::string project, std::vector<std::string> machines,
                                           int64_t /*since*/) override {
    ReportsRead out;
    out.next = 1;
    for (const auto& [key, row] : rows) {
      if (key.second == project && (machines.empty() || std::find(machines.begin(), machines.end(),
                                                                  key.first) != machines.end())) {
        out.rows.push_back(row);
      }
    }
    co_return out;
  }
  Awaitable<Result<std::vector<store::DesiredRow>>> AllDesired() override {
    std::vector<store::DesiredRow> out;
    for (const auto& [key, row] : rows) out.push_back(row);
    co_return out;
  }
  Awaitable<bool> WaitDesired(std::string machine, int64_t after, Duration max_wait) override {
    if (generations[machine] > after) co_return true;
    co_await WaitOn(desired_waiters_, max_wait);
    co_return true;
  }

  Awaitable<Status> ApplyReport(std::string machine, store::AgentReport report) override {
    for (const auto& [project, state] : report.states) {
      store::DesiredRow& row = rows[{machine, project}];
      row.machine = machine;
      row.project = project;
      row.reported = state;
      row.reported_at = Now();
      auto r = ParseProjectReport(state);
      if (r.ok() && !r->run_status.empty()) {
        log.push_back("report " + machine + " run " + r->run_release + " " + r->run_status);
      }
    }
    ++reports_applied_;
    Wake(report_waiters_);
    co_return Status::Ok();
  }
  int64_t ReportedMark(const std::string&) override { return reports_applied_; }
  Awaitable<void> WaitReported(std::string, int64_t mark, Duration max_wait) override {
    if (mark != reports_applied_) co_return;
    co_await WaitOn(report_waiters_, max_wait);
  }

  Awaitable<Status> RecordMachines(std::vector<store::DeploymentMachine> rows) override {
    for (const auto& row : rows) machines[{row.deployment_id, row.machine}] = row;
    co_return Status::Ok();
  }
  Awaitable<Result<std::vector<store::DeploymentMachine>>> MachinesOf(int64_t id) override {
    std::vector<store::DeploymentMachine> out;
    for (const auto& [key, row] : machines) {
      if (key.first == id) out.push_back(row);
    }
    co_return out;
  }

 private:
  using Waiters = std::set<std::shared_ptr<Event>>;
  static void Wake(Waiters& waiters) {
    for (const auto& w : waiters) w->Set();
  }
  Awaitable<void> WaitOn(Waiters& waiters, Duration max_wait) {
    auto event = std::make_shared<Event>(executor_);
    waiters.insert(event);
    (void)co_await event->Wait(max_wait);
    waiters.erase(event);
  }

  asio::any_io_executor executor_;
  Waiters desired_waiters_;
  Waiters report_waiters_;
  int64_t reports_applied_ = 0;  // ReportedMark
};

// What goes wrong on one simulated machine.
struct Trouble {
  std::map<std::string, std::string> fetch_fails;  // release -> why
  std::map<std::string, std::string> run_fails;    // release -> why (it stays on what ran)
  bool silent_after_fetch = false;  // reports once it has the release, then never again
};

AgentRelease Release(char c) {
  AgentRelease r;
  r.release = "20261128T10000" + std::string(1, c) + "Z-" + std::string(12, c);
  r.version = "main-" + std::string(8, c);
  r.commit = std::string(40, c);
  r.ref = "refs/heads/main";
  r.artifact_key = "web/" + r.version + ".tar.zst";
  r.sha256 = std::string(64, c);
  r.size = 1000;
  return r;
}

class RolloutTest : public ::testing::Test {
 protected:
  RolloutTest() : fleet_(io_.get_executor()) {
    spec_.deployment_id = 42;
    spec_.project = "web";
    spec_.release = Release('2');
    spec_.program.run = "./web --port ${PORT}";
    spec_.program.health.min_healthy_time = Duration(10);
    spec_.policy.batch_count = 1;
    spec_.policy.min_healthy = Duration(10);
    spec_.policy.agent_timeout = Duration(5000);
    spec_.machines = {"web-*"};
  }

  // `n` agents web-1..web-n, each running release '1' as its desired state says.
  void Machines(int n) {
    DesiredProject before;
    before.project = "web";
    before.deployment_id = 41;
    before.fetch = {Release('1')};
    before.run = Release('1');
    before.program.run = "./web-old";
    ProjectReport report;
    report.project = "web";
    report.fetched = {Release('1').release};
    report.run_deployment_id = 41;
    report.run_release = Release('1').release;
    report.run_status = "succeeded";
    report.running_release = Release('1').release;
    report.running_version = Release('1').version;
    for (int i = 1; i <= n; ++i) {
      const std::string name = "web-" + std::to_string(i);
      fleet_.Add(name, {"web"});
      fleet_.Preset(name, "web", ToJson(before), ToJson(report));
    }
  }

  // A simulated agent: acts on each new generation of its desired state and
  // reports what it has and what it runs.
  asio::awaitable<void> Agent(std::string machine, Trouble trouble) {
    ++agents_running_;
    ProjectReport r;
    if (auto p = ParseProjectReport(fleet_.rows[{machine, "web"}].reported); p.ok()) r = *p;
    int64_t acted = 0;
    while (!stop_) {
      auto desired = co_await fleet_.DesiredOf(machine);
      const int64_t generation = desired->first;
      if (generation > acted) {
        acted = generation;
        for (const store::DesiredRow& row : desired->second) {
          auto d = ParseDesiredProject(row.desired);
          if (row.desired.empty() || !d.ok()) continue;
          r.generation = generation;
          for (const AgentRelease& f : d->fetch) {
            auto fails = trouble.fetch_fails.find(f.release);
            if (fails != trouble.fetch_fails.end()) {
              r.fetch_failed[f.release] = fails->second;
            } else if (std::find(r.fetched.begin(), r.fetched.end(), f.release) ==
                       r.fetched.end()) {
              r.fetched.push_back(f.release);
            }
          }
          const bool new_run = d->run && (r.run_deployment_id != d->deployment_id ||
                                          r.run_release != d->run->release);
          if (new_run) {
            r.run_deployment_id = d->deployment_id;
            r.run_release = d->run->release;
            auto fails = trouble.run_fails.find(d->run->release);
            if (fails != trouble.run_fails.end()) {
              r.run_status = "failed";  // and it went back to what ran
              r.run_error = fails->second;
            } else {
              r.run_status = "succeeded";
              r.run_error.clear();
              r.running_release = d->run->release;
              r.running_version = d->run->version;
            }
          }
        }
        store::AgentReport report;
        report.id = machine + "/" + std::to_string(generation);
        report.states = {{"web", ToJson(r)}};
        co_await fleet_.ApplyReport(machine, report);
        const bool has =
            std::find(r.fetched.begin(), r.fetched.end(), spec_.release.release) != r.fetched.end();
        if (trouble.silent_after_fetch && has) break;
      }
      co_await fleet_.WaitDesired(machine, acted, Duration(50));
    }
    --agents_running_;
  }

  void StartAgent(const std::string& machine, Trouble trouble = {}) {
    asio::co_spawn(io_, Agent(machine, std::move(trouble)), asio::detached);
  }

  // Runs the rollout on the loop to its end (failing after 20 s), then lets
  // the simulated agents stop.
  RolloutResult RunRollout() {
    RolloutControls controls;
    controls.cancelled = [this] { return cancelled_; };
    controls.switching = [this] { ++switching_calls_; };
    Rollout rollout(&fleet_, spec_, controls);
    auto future = asio::co_spawn(io_, rollout.Run(), asio::use_future);
    const TimePoint deadline = Now() + Duration(20000);
    while (future.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready &&
           Now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(future.wait_for(std::chrono::milliseconds(0)), std::future_status::ready)
        << "the rollout did not end in 20 s";
    RolloutResult result = future.get();
    stop_ = true;
    for (const TimePoint end = Now() + Duration(5000); agents_running_ > 0 && Now() < end;) {
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    return result;
  }

  // Each machine's row of deployment 42: "web-1 1 succeeded".
  std::vector<std::string> Rows() {
    std::vector<std::string> out;
    for (const auto& [key, row] : fleet_.machines) {
      if (key.first != 42) continue;
      out.push_back(row.machine + " " + std::to_string(row.batch) + " " +
                    std::string(store::ToString(row.status)));
    }
    return out;
  }
  store::DeploymentMachine Row(const std::string& machine) const {
    auto it = fleet_.machines.find({42, machine});
    return it == fleet_.machines.end() ? store::DeploymentMachine{} : it->second;
  }
  // The release `machine` is to run now ("" for none).
  std::string DesiredRun(const std::string& machine) {
    auto d = ParseDesiredProject(fleet_.Desired(machine, "web"));
    return d.ok() && d->run ? d->run->release : "";
  }
  // Whether any SetDesired told `machine` to run `release`.
  bool EverToldToRun(const std::string& machine, const std::string& release) {
    for (const auto& call : fleet_.set_calls) {
      for (const auto& c : call) {
        auto d = ParseDesiredProject(c.desired);
        if (c.machine == machine && d.ok() && d->run && d->run->release == release) return true;
      }
    }
    return false;
  }
  // Where `line` is in the fleet's log: its first time, or its last.
  size_t LogIndex(const std::string& line, bool last = false) {
    size_t found = fleet_.log.size();
    for (size_t i = 0; i < fleet_.log.size(); ++i) {
      if (fleet_.log[i] != line) continue;
      found = i;
      if (!last) break;
    }
    EXPECT_LT(found, fleet_.log.size()) << "never happened: " << line;
    return found;
  }

  asio::io_context io_;
  FakeFleet fleet_;
  RolloutSpec spec_;
  bool cancelled_ = false;
  bool stop_ = false;
  int agents_running_ = 0;
  int switching_calls_ = 0;
};

TEST_F(RolloutTest, BatchesSwitchInNameOrderEachAfterThePreviousSucceeded) {
  Machines(5);
  fleet_.Add("db-1", {"db"});  // not a target
  spec_.policy.batch_count = 2;
  for (int i = 1; i <= 5; ++i) StartAgent("web-" + std::to_string(i));

  RolloutResult result = RunRollout();
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_TRUE(result.switched);
  EXPECT_EQ(result.targets,
            (std::vector<std::string>{"web-1", "web-2", "web-3", "web-4", "web-5"}));
  EXPECT_EQ(Rows(),
            (std::vector<std::string>{"web-1 1 succeeded", "web-2 1 succeeded", "web-3 2 succeeded",
                                      "web-4 2 succeeded", "web-5 3 succeeded"}));
  EXPECT_EQ(switching_calls_, 1);
  const std::string release = spec_.release.release;
  // Phase 1 for all at once, then one SetDesired per batch, in order.
  ASSERT_EQ(fleet_.set_calls.size(), 4u);
  EXPECT_EQ(fleet_.set_calls[0].size(), 5u);
  EXPECT_EQ(fleet_.set_calls[1].size(), 2u);
  EXPECT_EQ(fleet_.set_calls[2].size(), 2u);
  EXPECT_EQ(fleet_.set_calls[3].size(), 1u);
  EXPECT_EQ(fleet_.set_calls[3][0].machine, "web-5");
  EXPECT_LT(LogIndex("report web-1 run " + release + " succeeded"),
            LogIndex("desired web-3 run " + release));
  EXPECT_LT(LogIndex("report web-2 run " + release + " succeeded"),
            LogIndex("desired web-3 run " + release));
  EXPECT_LT(LogIndex("report web-4 run " + release + " succeeded"),
            LogIndex("desired web-5 run " + release));
  // Each machine's desired state: the release to hold and run, the new
  // program, under this deployment; where it came from is in its row.
  auto d = ParseDesiredProject(fleet_.Desired("web-4", "web"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->deployment_id, 42);
  EXPECT_EQ(d->fetch, (std::vector<AgentRelease>{spec_.release}));
  EXPECT_EQ(d->run, spec_.release);
  EXPECT_FALSE(d->rollback);
  EXPECT_EQ(d->program.run, "./web --port ${PORT}");
  EXPECT_EQ(d->program.health.min_healthy_time, Duration(10));
  EXPECT_EQ(Row("web-4").from_version, "main-11111111");
  EXPECT_EQ(Row("web-4").to_version, "main-22222222");
  EXPECT_EQ(Row("web-4").to_release, release);
  EXPECT_TRUE(Row("web-4").started_at.has_value());
  EXPECT_TRUE(Row("web-4").finished_at.has_value());
  EXPECT_EQ(fleet_.Desired("db-1", "web"), "");
}

TEST_F(RolloutTest, AFailedFetchOnOneMachineFailsBeforeAnySwitch) {
  Machines(3);
  const std::string before = fleet_.Desired("web-1", "web");
  StartAgent("web-1");
  StartAgent("web-2", {.fetch_fails = {{spec_.release.release, "sha256 mismatch"}}});
  StartAgent("web-3");

  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.message(),
            "web-2: artifact web/main-22222222.tar.zst: sha256 mismatch; no machine was switched");
  EXPECT_FALSE(result.switched);
  EXPECT_EQ(switching_calls_, 0);
  for (const char* m : {"web-1", "web-2", "web-3"}) {
    EXPECT_FALSE(EverToldToRun(m, spec_.release.release)) << m;
    EXPECT_EQ(fleet_.Desired(m, "web"), before) << m << ": its desired state is what it was";
  }
  EXPECT_EQ(Row("web-2").status, MS::kFailed);
  EXPECT_EQ(Row("web-2").error, "artifact web/main-22222222.tar.zst: sha256 mismatch");
  EXPECT_EQ(Row("web-1").status, MS::kSkipped);
  EXPECT_EQ(Row("web-3").status, MS::kSkipped);
}

TEST_F(RolloutTest, AHealthFailureOnTheThirdRollsBackOneToThreeAndNeverTouchesTheFourth) {
  Machines(4);
  StartAgent("web-1");
  StartAgent("web-2");
  StartAgent("web-3", {.run_fails = {{spec_.release.release, "healthcheck failed: GET / 500"}}});
  StartAgent("web-4");

  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.message(),
            "web-3: healthcheck failed: GET / 500; rolled back web-1, web-2, web-3");
  EXPECT_TRUE(result.switched);
  EXPECT_TRUE(result.rolled_back);
  EXPECT_EQ(Rows(), (std::vector<std::string>{"web-1 1 rolled back", "web-2 2 rolled back",
                                              "web-3 3 rolled back", "web-4 4 skipped"}));
  EXPECT_EQ(Row("web-3").error, "healthcheck failed: GET / 500");
  const std::string old = Release('1').release;
  for (const char* m : {"web-1", "web-2", "web-3"}) {
    auto d = ParseDesiredProject(fleet_.Desired(m, "web"));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(DesiredRun(m), old) << m;
    EXPECT_TRUE(d->rollback) << m;
    EXPECT_EQ(d->program.run, "./web-old") << m << ": the program it had";
  }
  EXPECT_FALSE(EverToldToRun("web-4", spec_.release.release));
  EXPECT_EQ(DesiredRun("web-4"), old);
  EXPECT_LT(LogIndex("report web-3 run " + spec_.release.release + " failed"),
            LogIndex("desired web-1 run " + old, /*last=*/true));
}

TEST_F(RolloutTest, HaltLeavesTheSwitchedMachinesOnTheNewRelease) {
  Machines(4);
  spec_.policy.on_failure = config::Rollout::OnFailure::kHalt;
  StartAgent("web-1");
  StartAgent("web-2");
  StartAgent("web-3", {.run_fails = {{spec_.release.release, "healthcheck failed: GET / 500"}}});
  StartAgent("web-4");

  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.message(),
            "web-3: healthcheck failed: GET / 500; halted (on_failure = halt): web-1, web-2 run "
            "main-22222222; not switched: web-4");
  EXPECT_TRUE(result.switched);
  EXPECT_FALSE(result.rolled_back);
  EXPECT_EQ(Rows(), (std::vector<std::string>{"web-1 1 succeeded", "web-2 2 succeeded",
                                              "web-3 3 failed", "web-4 4 skipped"}));
  EXPECT_EQ(DesiredRun("web-1"), spec_.release.release);
  EXPECT_EQ(DesiredRun("web-2"), spec_.release.release);
  EXPECT_FALSE(EverToldToRun("web-4", spec_.release.release));
}

TEST_F(RolloutTest, AMachineThatRanNothingBeforeIsLeftAndTheErrorSaysSo) {
  Machines(2);
  fleet_.Add("web-3", {"web"});  // new: no desired state, no report yet
  spec_.policy.batch_count = 3;
  StartAgent("web-1");
  StartAgent("web-2", {.run_fails = {{spec_.release.release, "healthcheck failed: GET / 500"}}});
  StartAgent("web-3");

  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.message(),
            "web-2: healthcheck failed: GET / 500; rolled back web-1, web-2; web-3 had nothing of "
            "web to go back to (left with main-22222222 as its desired run)");
  EXPECT_FALSE(result.rolled_back);
  EXPECT_EQ(Rows(), (std::vector<std::string>{"web-1 1 rolled back", "web-2 1 rolled back",
                                              "web-3 1 succeeded"}));
  EXPECT_EQ(DesiredRun("web-3"), spec_.release.release);
}

TEST_F(RolloutTest, ARollbackByHandIsSaidToEveryMachineAndBatchesWaitThePause) {
  Machines(2);
  spec_.rollback = true;
  spec_.policy.pause = Duration(150);
  StartAgent("web-1");
  StartAgent("web-2");

  const TimePoint began = Now();
  RolloutResult result = RunRollout();
  ASSERT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_GE(Now() - began, Duration(150)) << "one pause, between the two batches";
  for (const char* m : {"web-1", "web-2"}) {
    auto d = ParseDesiredProject(fleet_.Desired(m, "web"));
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->rollback) << m;
    EXPECT_EQ(DesiredRun(m), spec_.release.release) << m;
  }
}

TEST_F(RolloutTest, AMachineSilentWhileFetchingIsLostAfterAgentTimeout) {
  Machines(2);
  spec_.policy.agent_timeout = Duration(200);
  StartAgent("web-1");  // web-2 has no agent running

  const TimePoint began = Now();
  RolloutResult result = RunRollout();
  EXPECT_GE(Now() - began, Duration(200));
  EXPECT_EQ(result.status.message(),
            "no answer from web-2 for 200 ms (fetching web/main-22222222.tar.zst); no machine was "
            "switched");
  EXPECT_FALSE(result.switched);
  EXPECT_EQ(Row("web-2").status, MS::kLost);
  EXPECT_EQ(Row("web-1").status, MS::kSkipped);
}

TEST_F(RolloutTest, AMachineSilentInItsBatchIsLostAndToldToGoBack) {
  Machines(3);
  spec_.policy.agent_timeout = Duration(200);
  StartAgent("web-1");
  StartAgent("web-2", {.silent_after_fetch = true});
  StartAgent("web-3");

  RolloutResult result = RunRollout();
  // Its last report (from before the switch) says it runs the old release
  // under this deployment: that is no answer to being told to go back.
  EXPECT_EQ(result.status.message(),
            "no answer from web-2 for 200 ms; rolled back web-1; web-2 did not answer: it goes "
            "back to main-11111111 when it returns");
  EXPECT_TRUE(result.switched);
  EXPECT_FALSE(result.rolled_back);
  EXPECT_EQ(Rows(),
            (std::vector<std::string>{"web-1 1 rolled back", "web-2 2 lost", "web-3 3 skipped"}));
  EXPECT_EQ(DesiredRun("web-2"), Release('1').release) << "it converges when it returns";
  EXPECT_FALSE(EverToldToRun("web-3", spec_.release.release));
}

TEST_F(RolloutTest, AMachineSilentBeforeTheRolloutIsToldTheEndStateAndNoBatchWaitsForIt) {
  Machines(3);
  spec_.policy.agent_timeout = Duration(200);
  // web-3 is down for maintenance: last heard from long before this rollout.
  fleet_.agents[2].last_seen_at = Now() - std::chrono::minutes(10);
  StartAgent("web-1");
  StartAgent("web-2");

  RolloutResult result = RunRollout();
  EXPECT_TRUE(result.status.ok()) << result.status.message();
  EXPECT_EQ(Rows(),
            (std::vector<std::string>{"web-1 1 succeeded", "web-2 2 succeeded", "web-3 0 lost"}));
  EXPECT_EQ(DesiredRun("web-3"), spec_.release.release) << "it converges when it is back";
}

TEST_F(RolloutTest, EveryTargetSilentFailsAtOnce) {
  Machines(2);
  for (auto& a : fleet_.agents) a.last_seen_at.reset();
  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(result.status.message(),
            "every target is silent (not heard from for more than 5 s): web-1, web-2");
  EXPECT_FALSE(result.switched);
}

TEST_F(RolloutTest, CancelledWhileFetchingNothingSwitches) {
  Machines(2);
  const std::string before = fleet_.Desired("web-2", "web");
  StartAgent("web-1");  // web-2 stays silent: the rollout waits in phase 1
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        while (Row("web-1").status != MS::kFetched) co_await SleepFor(Duration(10));
        cancelled_ = true;
      },
      asio::detached);

  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.code(), StatusCode::kCancelled);
  EXPECT_EQ(result.status.message(), "cancelled before any machine switched");
  EXPECT_FALSE(result.switched);
  EXPECT_EQ(switching_calls_, 0);
  EXPECT_EQ(Rows(), (std::vector<std::string>{"web-1 1 skipped", "web-2 2 skipped"}));
  EXPECT_EQ(fleet_.Desired("web-2", "web"), before);
}

TEST_F(RolloutTest, NoMatchingAgentFailsNamingTheRuleAndTheAgents) {
  fleet_.Add("db-1", {"db"});
  fleet_.Add("web-9", {"web"}, /*revoked=*/true);
  spec_.labels = {"web"};

  RolloutResult result = RunRollout();
  EXPECT_EQ(result.status.code(), StatusCode::kNotFound);
  EXPECT_EQ(result.status.message(),
            "no agent matches machines [web-*] labels [web] (agents: db-1 [db], web-9 [web] "
            "revoked)");
  EXPECT_TRUE(result.targets.empty());
  EXPECT_TRUE(fleet_.set_calls.empty());
}

}  // namespace
}  // namespace anthill::deploy
