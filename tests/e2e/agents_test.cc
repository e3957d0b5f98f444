// A fleet of agents on one box: a real PostgreSQL 15, one orchestrator, one
// builder and four `anthill agent` processes (web-1..web-4), each with its
// own data dir and its program on its own port (--env PORT=...). A push is
// built once, fetched by every agent (phase 1), then switched batch by
// batch (phase 2), each machine's steps recorded under the deployment.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "base/time.h"
#include "http/client.h"
#include "tests/e2e/fleet_harness.h"

namespace anthill::e2e {
namespace {

class AgentsTest : public FleetHarness {
 protected:
  struct AgentProc {
    int port = 0;
    std::string token;
    std::string labels;
  };

  // start.sh runs `first` (a shell line, if any), then hello on $PORT,
  // unless this machine is named in fail-on (a release that breaks on one
  // machine only).
  void WriteStartScript(const std::string& fail_on = "", const std::string& first = "") {
    testing::WriteFile(origin() / "start.sh",
                       "#!/bin/sh\n" + (first.empty() ? "" : first + "\n") +
                           "if [ -f fail-on ] && grep -qx \"$MACHINE\" fail-on; then\n"
                           "  echo \"broken on $MACHINE\" >&2; exit 3\n"
                           "fi\n"
                           "exec ./hello --port \"$PORT\"\n");
    fs::permissions(origin() / "start.sh", fs::perms::owner_all, fs::perm_options::add);
    if (fail_on.empty()) {
      fs::remove(origin() / "fail-on");
    } else {
      testing::WriteFile(origin() / "fail-on", fail_on + "\n");
    }
  }

  // The orchestrator's config: project hello on the agents web-*, in
  // batches of `batch`.
  void WriteFleetConfig(const std::string& rollout) { WriteOrchestrator(FleetOptions(rollout)); }
  ProjectOptions FleetOptions(const std::string& rollout) {
    ProjectOptions o;
    o.build = "make";
    o.run = "./start.sh";
    o.health =
        "{ http = \"http://127.0.0.1:${PORT}/healthz\", timeout = \"5s\", interval = "
        "\"50ms\" }";
    o.extra = "machines = [\"web-*\"]\nrollout = " + rollout + "\n";
    return o;
  }

  // Registers `name` with the orchestrator (its token from the CLI's last
  // line) and starts its agent.
  void AddAgent(const std::string& name, const std::string& labels = "web") {
    auto [code, out] = RunCli({"agents", "add", name, "-c", config_path_.string()});
    ASSERT_EQ(code, 0) << out;
    std::string token = out;
    while (!token.empty() && token.back() == '\n') token.pop_back();
    token = token.substr(token.rfind('\n') + 1);
    ASSERT_EQ(token.rfind(name + ".", 0), 0u) << out;
    agents_[name] = {testing::FreePort(), token, labels};
    StartAgent(name);
  }

  void StartAgent(const std::string& name) {
    const AgentProc& a = agents_[name];
    const fs::path home = dir_ / name;
    fs::create_directories(home);
    const std::string servers = "http://127.0.0.1:" + std::to_string(api_port_) + more_servers_;
    os::SpawnOptions o;
    o.cwd = home;
    o.env = os::CurrentEnvironment();
    if (name.back() % 2 == 0) {
      // web-2, web-4: as a user with an [agent] file and a token file would
      // (its machine name the token's).
      testing::WriteFile(home / "agent.token", a.token + "\n");
      ASSERT_EQ(chmod((home / "agent.token").c_str(), 0600), 0);
      std::string list;  // "a", "b" of a,b
      for (size_t begin = 0, end; begin <= servers.size(); begin = end + 1) {
        end = std::min(servers.find(',', begin), servers.size());
        list += (list.empty() ? "\"" : ", \"") + servers.substr(begin, end - begin) + "\"";
      }
      testing::WriteFile(home / "agent.toml",
                         "[agent]\nservers = [" + list + "]\nlabels = [\"" + a.labels +
                             "\"]\ndata_dir = \"data\"\ntoken_file = \"agent.token\"\n" +
                             "env = { PORT = \"" + std::to_string(a.port) + "\", MACHINE = \"" +
                             name + "\" }\n");
      o.argv = {ANTHILL_BINARY, "agent", "-c", (home / "agent.toml").string()};
    } else {
      o.argv = {ANTHILL_BINARY, "agent",
                "--server",     servers,
                "--machine",    name,
                "--labels",     a.labels,
                "--data-dir",   "data",  // relative: to its cwd, home
                "--env",        "PORT=" + std::to_string(a.port),
                "--env",        "MACHINE=" + name};
      o.env.push_back("ANTHILL_AGENT_TOKEN=" + a.token);
    }
    o.output = home / "anthill.log";
    auto child = os::Spawn(o);
    ASSERT_TRUE(child.ok()) << child.error();
    builders_[name] = std::make_unique<os::Child>(std::move(child.value()));
    ASSERT_TRUE(testing::WaitUntil([&] { return !Machine(name)["last_seen_at"].is_null(); },
                                   std::chrono::seconds(20)))
        << testing::ReadFile(home / "anthill.log");
  }

  json Machine(const std::string& name) {
    json all = Api("/api/v1/machines");
    if (all.is_null()) return json::object({{"last_seen_at", nullptr}});
    for (const auto& m : all["machines"]) {
      if (m["name"] == name) return m;
    }
    return json::object({{"last_seen_at", nullptr}});
  }

  // What the program of agent `name` answers on "/".
  std::string Greeting(const std::string& name) {
    auto r = http::Fetch("GET", "127.0.0.1:" + std::to_string(agents_[name].port), "/");
    return r.ok() ? r->body : "";
  }

  // The deployment's machine rows, by machine.
  static std::map<std::string, json> Rows(const json& d) {
    std::map<std::string, json> out;
    if (!d.contains("machines")) return out;
    for (const auto& m : d["machines"]) out[m["machine"]] = m;
    return out;
  }
  // When machine `name` began step `step` in deployment d ("" for never).
  static std::string StepStarted(const json& d, const std::string& name, const std::string& step) {
    for (const auto& s : d["steps"]) {
      if (s["machine"] == name && s["name"] == step) return s["started_at"];
    }
    return "";
  }
  // Step names machine `name` ran in deployment d, in order.
  static std::vector<std::string> StepsOn(const json& d, const std::string& name) {
    std::vector<std::string> out;
    for (const auto& s : d["steps"]) {
      if (s["machine"] == name) out.push_back(s["name"]);
    }
    return out;
  }

  // The orchestrator (project hello with `rollout` and `project_extra`), a
  // builder, and agents web-1 to web-<agents>, start.sh running `first`.
  void StartFleet(const std::string& rollout, const std::string& project_extra = "", int agents = 4,
                  const std::string& first = "") {
    WriteStartScript("", first);
    Commit("start.sh: hello on $PORT");
    ProjectOptions o = FleetOptions(rollout);
    o.extra += project_extra;
    WriteOrchestrator(o);
    StartAnthill();
    StartBuilder("b1");
    for (int i = 1; i <= agents; ++i) AddAgent("web-" + std::to_string(i));
  }

  // The first deployment of `commit` that succeeded. The poller may roll a
  // commit out before any agent answers: that one fails for want of
  // machines, and the commit is rolled out again once they answer.
  json WaitSucceeded(const std::string& commit) {
    json found;
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          for (const auto& d : Deployments()) {
            if (d["to_commit"] == commit && d["status"] == "succeeded") found = d;
          }
          return !found.is_null();
        },
        std::chrono::seconds(120)))
        << Deployments().dump(1);
    return found;
  }
  // Waits until every agent runs `commit` and says so (pid known).
  void WaitAllRun(const std::string& commit) {
    for (const auto& [name, agent] : agents_) {
      ASSERT_TRUE(testing::WaitUntil(
          [&] {
            json m = Machine(name);
            return Greeting(name).find("main-" + commit.substr(0, 8)) != std::string::npos &&
                   m.contains("projects") && !m["projects"].empty() &&
                   m["projects"][0]["version"] == "main-" + commit.substr(0, 8) &&
                   m["projects"][0]["pid"].is_number() && m["projects"][0]["pid"] != 0;
          },
          std::chrono::seconds(60)))
          << name << " never ran " << commit << ": " << Machine(name).dump(1);
    }
  }
  // Processes whose command line is hello serving `port`.
  static int HellosOn(int port) {
    int n = 0;
    const std::string want = "--port" + std::string(1, '\0') + std::to_string(port);
    for (const auto& e : fs::directory_iterator("/proc")) {
      const std::string pid = e.path().filename();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string cmdline = testing::ReadFile(e.path() / "cmdline");
      if (cmdline.find("hello") != std::string::npos && cmdline.find(want) != std::string::npos) {
        ++n;
      }
    }
    return n;
  }
  void KillAgent(const std::string& name) {
    auto& child = builders_[name];
    kill(child->pid(), SIGKILL);
    int status = 0;
    waitpid(child->pid(), &status, 0);
    child.reset();
  }

  std::map<std::string, AgentProc> agents_;
  std::string more_servers_;  // ",http://127.0.0.1:<port>" of a second orchestrator
};

TEST_F(AgentsTest, APushRollsOutInBatchesAndEveryMachineRecordsItsSteps) {
  StartFleet("{ batch = 1, min_healthy = \"0s\", agent_timeout = \"60s\" }");
  const std::string first = Head();
  json d1 = WaitSucceeded(first);
  ASSERT_FALSE(d1.is_null());
  d1 = Api("/api/v1/deployments/" + d1["id"].dump());
  ASSERT_EQ(d1["status"], "succeeded") << d1.dump(1);
  // The poller deployed the head while the agents were still registering:
  // the ones registered later join, each by a deployment of its own.
  for (const auto& [name, row] : Rows(d1)) {
    // One registered but not yet heard from is lost up front (it follows).
    if (row["status"] == "lost") continue;
    EXPECT_EQ(row["status"], "succeeded") << d1.dump(1);
    EXPECT_EQ(StepsOn(d1, name), (std::vector<std::string>{"download", "start", "healthcheck"}))
        << name << " " << d1.dump(1);
  }
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) {
    EXPECT_TRUE(testing::WaitUntil(
        [&] { return Greeting(name).find("main-" + first.substr(0, 8)) != std::string::npos; },
        std::chrono::seconds(60)))
        << name << " never ran " << first;
  }
  if (Rows(d1).size() < 4) {
    json joined = Deployments();
    bool said = false;
    for (const auto& d : joined) {
      said = said || d["actor"].get<std::string>().rfind("joined: ", 0) == 0;
    }
    EXPECT_TRUE(said) << joined.dump(1);
  }
  // Nothing runs on the orchestrator's machine.
  EXPECT_TRUE(AppGet("/").empty());

  const std::string second = CommitChange("second, to every machine");
  json d2 = WaitFinished(second, std::chrono::seconds(120));
  ASSERT_FALSE(d2.is_null());
  d2 = Api("/api/v1/deployments/" + d2["id"].dump());
  ASSERT_EQ(d2["status"], "succeeded") << d2.dump(1);
  auto rows = Rows(d2);
  for (int i = 1; i <= 4; ++i) {
    const std::string name = "web-" + std::to_string(i);
    EXPECT_EQ(StepsOn(d2, name),
              (std::vector<std::string>{"download", "stop", "start", "healthcheck"}))
        << name << " " << d2.dump(1);
    EXPECT_EQ(rows[name]["from_version"], "main-" + first.substr(0, 8));
    EXPECT_EQ(rows[name]["to_version"], "main-" + second.substr(0, 8));
    EXPECT_NE(Greeting(name).find("main-" + second.substr(0, 8)), std::string::npos) << name;
    // Batch by batch: a machine stops its old program only once the one
    // before it was done.
    if (i > 1) {
      const std::string before = "web-" + std::to_string(i - 1);
      EXPECT_GE(StepStarted(d2, name, "stop"), rows[before]["finished_at"].get<std::string>())
          << d2.dump(1);
    }
  }
  auto [code, out] = RunCli({"machines", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) {
    EXPECT_NE(out.find(name), std::string::npos) << out;
  }
  EXPECT_NE(out.find("main-" + second.substr(0, 8)), std::string::npos) << out;
  // `anthill deploy` follows the rollout machine by machine, batch by batch
  // (the machines run it already: each answers at once).
  auto [deploy_code, followed] = RunCli({"deploy", "hello", "-c", config_path_.string()});
  EXPECT_EQ(deploy_code, 0) << followed;
  EXPECT_NE(followed.find("web-1 (batch 1): succeeded"), std::string::npos) << followed;
  EXPECT_NE(followed.find("web-4 (batch 4): succeeded"), std::string::npos) << followed;
  StopAnthill();
}

TEST_F(AgentsTest, AVersionFailingOnOneMachineHaltsAndTheSwitchedOnesGoBack) {
  StartFleet("{ batch = 1, min_healthy = \"0s\", agent_timeout = \"60s\" }");
  const std::string good = Head();
  json d1 = WaitSucceeded(good);
  ASSERT_FALSE(d1.is_null());
  ASSERT_EQ(d1["status"], "succeeded") << d1.dump(1);
  // Every machine runs it (the late ones joined by a deployment of their own).
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) {
    ASSERT_TRUE(testing::WaitUntil(
        [&] {
          json m = Machine(name);
          return Greeting(name).find("main-" + good.substr(0, 8)) != std::string::npos &&
                 m.contains("projects") && !m["projects"].empty() &&
                 m["projects"][0]["pid"].is_number() && m["projects"][0]["pid"] != 0;
        },
        std::chrono::seconds(60)))
        << name << " never ran " << good;
  }
  const int64_t web4_pid = Machine("web-4")["projects"][0]["pid"].get<int64_t>();

  WriteStartScript("web-3");
  const std::string bad = Commit("breaks on web-3");
  json d2 = WaitFinished(bad, std::chrono::seconds(120));
  ASSERT_FALSE(d2.is_null());
  d2 = Api("/api/v1/deployments/" + d2["id"].dump());
  EXPECT_EQ(d2["status"], "rolled_back") << d2.dump(1);
  EXPECT_NE(d2["error"].get<std::string>().find("web-3"), std::string::npos) << d2.dump(1);
  auto rows = Rows(d2);
  for (const char* name : {"web-1", "web-2", "web-3"}) {
    EXPECT_EQ(rows[name]["status"], "rolled back") << name << " " << d2.dump(1);
  }
  EXPECT_EQ(rows["web-4"]["status"], "skipped") << d2.dump(1);
  // Every machine serves the good version again; web-4 was never touched.
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) {
    std::string greeting;
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          greeting = Greeting(name);
          return greeting.find("main-" + good.substr(0, 8)) != std::string::npos;
        },
        std::chrono::seconds(30)))
        << name << ": " << greeting;
  }
  EXPECT_EQ(Machine("web-4")["projects"][0]["pid"].get<int64_t>(), web4_pid);
  // It fetched the release (phase 1 is every machine's) and switched nothing.
  EXPECT_EQ(StepsOn(d2, "web-4"), (std::vector<std::string>{"download"})) << d2.dump(1);
  StopAnthill();
}

TEST_F(AgentsTest, AnAgentTokenOpensOnlyItsOwnMachineAndARevokedOneNothing) {
  WriteStartScript();
  Commit("start.sh");
  WriteFleetConfig("{ batch = 1 }");
  // A server token: what deploys and registers agents, which no agent token is.
  std::string config = testing::ReadFile(config_path_);
  config.replace(0, std::string("[server]\n").size(), "[server]\ntoken = \"s3cret\"\n");
  testing::WriteFile(config_path_, config);
  StartAnthill();
  AddAgent("web-1");
  AddAgent("web-2");
  const std::string host = "127.0.0.1:" + std::to_string(api_port_);
  const std::string web1 = agents_["web-1"].token;
  auto own = http::Fetch("GET", host, "/api/v1/agents/web-1/desired?wait=0s", "", web1);
  ASSERT_TRUE(own.ok()) << own.error();
  EXPECT_EQ(own->status, 200) << own->body;
  // Another machine's desired state holds its programs' env: refused.
  auto foreign = http::Fetch("GET", host, "/api/v1/agents/web-2/desired?wait=0s", "", web1);
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(foreign->status, 403) << foreign->body;
  auto report = http::Fetch("POST", host, "/api/v1/agents/web-2/reports",
                            R"({"id": "x", "steps": [], "states": []})", web1);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->status, 403) << report->body;
  // It is no server token: it cannot deploy, roll back or register agents.
  auto deploy = http::Fetch("POST", host, "/api/v1/projects/hello/deploy", "{}", web1);
  ASSERT_TRUE(deploy.ok());
  EXPECT_EQ(deploy->status, 401) << deploy->body;
  auto add = http::Fetch("POST", host, "/api/v1/agents", R"({"name": "web-9"})", web1);
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->status, 401) << add->body;
  // A token made up for web-1 is refused.
  auto made_up = http::Fetch("GET", host, "/api/v1/agents/web-1/desired?wait=0s", "",
                             "web-1." + std::string(64, 'a'));
  ASSERT_TRUE(made_up.ok());
  EXPECT_EQ(made_up->status, 401) << made_up->body;

  auto [code, out] = RunCli({"agents", "revoke", "web-1", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  auto revoked = http::Fetch("GET", host, "/api/v1/agents/web-1/desired?wait=0s", "", web1);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->status, 401) << revoked->body;
  // The agent itself says why it is locked out, and keeps asking.
  EXPECT_TRUE(testing::WaitUntil(
      [&] {
        return testing::ReadFile(dir_ / "web-1" / "anthill.log").find("401") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << testing::ReadFile(dir_ / "web-1" / "anthill.log");
  StopAnthill();
}

TEST_F(AgentsTest, AMachineThatCannotFetchFailsTheDeploymentBeforeAnySwitch) {
  StartFleet("{ batch = 1, min_healthy = \"0s\", agent_timeout = \"60s\" }");
  const std::string good = Head();
  WaitAllRun(good);
  // web-4 can no longer download: its tmp dir is a file now.
  fs::remove_all(dir_ / "web-4" / "data" / "tmp");
  testing::WriteFile(dir_ / "web-4" / "data" / "tmp", "not a dir\n");
  const std::string next = CommitChange("web-4 cannot fetch this one");
  json d = WaitFinished(next, std::chrono::seconds(120));
  ASSERT_FALSE(d.is_null());
  d = Api("/api/v1/deployments/" + d["id"].dump());
  EXPECT_EQ(d["status"], "failed") << d.dump(1);
  EXPECT_NE(d["error"].get<std::string>().find("web-4"), std::string::npos) << d.dump(1);
  EXPECT_NE(d["error"].get<std::string>().find("no machine was switched"), std::string::npos)
      << d.dump(1);
  auto rows = Rows(d);
  EXPECT_EQ(rows["web-4"]["status"], "failed") << d.dump(1);
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) {
    // No machine stopped or started anything; each still serves the good one.
    for (const std::string& step : StepsOn(d, name)) {
      EXPECT_EQ(step, "download") << name << " " << d.dump(1);
    }
    EXPECT_NE(Greeting(name).find("main-" + good.substr(0, 8)), std::string::npos) << name;
  }
  StopAnthill();
}

TEST_F(AgentsTest, AnAgentKilledMidRolloutComesBackAndConvergesWithOneProgram) {
  StartFleet("{ batch = 1, min_healthy = \"0s\", agent_timeout = \"60s\" }");
  const std::string good = Head();
  WaitAllRun(good);
  // hello waits a second before it listens: web-2 is killed mid-healthcheck.
  const std::string slow = CommitMode("slow-start");
  int64_t id = 0;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["to_commit"] == slow) id = d["id"];
        }
        if (id == 0) return false;
        json d = Api("/api/v1/deployments/" + std::to_string(id));
        for (const auto& st : d["steps"]) {
          if (st["machine"] == "web-2" && st["name"] == "healthcheck") return true;
        }
        return false;
      },
      std::chrono::seconds(120)));
  KillAgent("web-2");
  StartAgent("web-2");
  json d = WaitDeploymentEnded(id, std::chrono::seconds(120));
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  WaitAllRun(slow);
  // One program on its port: the killed life's candidate was not left beside it.
  EXPECT_EQ(HellosOn(agents_["web-2"].port), 1);
  StopAnthill();
}

TEST_F(AgentsTest, AnAgentDownForAWholeRolloutConvergesWhenItReturns) {
  StartFleet("{ batch = 2, min_healthy = \"0s\", agent_timeout = \"12s\" }");
  const std::string good = Head();
  WaitAllRun(good);
  StopBuilder("web-4");  // the agent stops; its program keeps serving
  // Silent longer than agent_timeout before the push.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        auto seen = ParseRfc3339(Machine("web-4")["last_seen_at"].get<std::string>());
        return seen.ok() && Now() - *seen > std::chrono::seconds(13);
      },
      std::chrono::seconds(60)));
  const std::string next = CommitChange("while web-4 is down");
  json d = WaitFinished(next, std::chrono::seconds(120));
  ASSERT_FALSE(d.is_null());
  d = Api("/api/v1/deployments/" + d["id"].dump());
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(Rows(d)["web-4"]["status"], "lost") << d.dump(1);
  EXPECT_NE(Greeting("web-4").find("main-" + good.substr(0, 8)), std::string::npos);
  StartAgent("web-4");
  WaitAllRun(next);
  StopAnthill();
}

// listen + ready = "notify" on agents: each agent holds its machine's
// socket and hands it to both versions, so no request to any machine fails
// while the fleet switches.
TEST_F(AgentsTest, AZeroDowntimeRolloutAnswersEveryRequestOnEveryMachine) {
  StartFleet("{ batch = 2, min_healthy = \"0s\", agent_timeout = \"60s\" }",
             "listen = [\"tcp://127.0.0.1:${PORT}\"]\nready = \"notify\"\n");
  const std::string first = Head();
  WaitAllRun(first);
  std::map<std::string, int64_t> old_pids;
  for (const auto& [name, agent] : agents_) {
    old_pids[name] = Machine(name)["projects"][0]["pid"].get<int64_t>();
  }

  // Requests back to back, machine after machine, for as long as the
  // rollout takes.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<int> ports;
  for (const auto& [name, agent] : agents_) ports.push_back(agent.port);
  std::thread load([&] {
    for (size_t i = 0; !stop; ++i) {
      auto r = http::Fetch("GET", "127.0.0.1:" + std::to_string(ports[i % ports.size()]), "/");
      (r.ok() && r->status == 200 ? ok : failed)++;
    }
  });
  const std::string next = CommitChange("swapped under load");
  json d = WaitSucceeded(next);
  WaitAllRun(next);
  stop = true;
  load.join();

  ASSERT_FALSE(d.is_null());
  d = Api("/api/v1/deployments/" + d["id"].dump());
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(failed.load(), 0) << "of " << ok + failed << " requests";
  for (const auto& [name, agent] : agents_) {
    // The new version started beside the old, which was stopped once it was ready.
    EXPECT_EQ(StepsOn(d, name),
              (std::vector<std::string>{"download", "start", "healthcheck", "stop"}))
        << name << ": " << d.dump(1);
    EXPECT_FALSE(ProcessAlive(old_pids[name])) << name;
    EXPECT_EQ(HellosOn(agent.port), 1) << name;
    const std::string log = testing::ReadFile(dir_ / name / "data/logs/app/hello.log");
    EXPECT_NE(log.find("serving the passed socket"), std::string::npos) << name << ": " << log;
  }

  // A killed agent's next life takes the socket back from its program (it
  // holds the only other copy) and swaps as smoothly.
  KillAgent("web-1");
  StartAgent("web-1");
  ok = 0;
  stop = false;
  std::thread again([&] {
    for (size_t i = 0; !stop; ++i) {
      auto r = http::Fetch("GET", "127.0.0.1:" + std::to_string(ports[i % ports.size()]), "/");
      (r.ok() && r->status == 200 ? ok : failed)++;
    }
  });
  const std::string third = CommitChange("swapped by a restarted agent");
  d = WaitSucceeded(third);
  WaitAllRun(third);
  stop = true;
  again.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(failed.load(), 0) << "of " << ok + failed << " requests";
  EXPECT_EQ(HellosOn(agents_["web-1"].port), 1);
}

TEST_F(AgentsTest, AnOrchestratorKilledMidRolloutIsFinishedByTheOther) {
  UseS3();  // what two orchestrators need: a store both reach
  const std::string rollout = "{ batch = 1, min_healthy = \"2s\", agent_timeout = \"60s\" }";
  WriteStartScript();
  Commit("start.sh: hello on $PORT");
  WriteFleetConfig(rollout);
  StartAnthill();
  const int b_api = StartSecondOrchestrator(FleetOptions(rollout));
  more_servers_ = ",http://127.0.0.1:" + std::to_string(b_api);
  StartBuilder("b1");
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) AddAgent(name);
  const std::string good = Head();
  WaitAllRun(good);

  const std::string next = CommitChange("rolled out across a take-over");
  int64_t id = 0;
  // Killed once web-1 has switched and web-2 is on its way.
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["to_commit"] == next) id = d["id"];
        }
        if (id == 0) return false;
        auto rows = Rows(Api("/api/v1/deployments/" + std::to_string(id)));
        return rows["web-1"]["status"] == "succeeded" && rows["web-2"]["status"] == "switching";
      },
      std::chrono::seconds(120)));
  const json web1_pid = Machine("web-1")["projects"][0]["pid"];
  KillAnthill();
  api_port_ = b_api;  // the other one answers from now on

  json interrupted = WaitDeploymentEnded(id, std::chrono::seconds(60));
  EXPECT_EQ(interrupted["status"], "interrupted") << interrupted.dump(1);
  // Its machines say where it stopped: web-1 had ended its part; the last
  // batches had not, and none is left "switching" or "fetched" for ever
  // (web-2 may have ended as the orchestrator died).
  const json stopped = Api("/api/v1/deployments/" + std::to_string(id));
  auto rows = Rows(stopped);
  EXPECT_EQ(rows["web-1"]["status"], "succeeded") << stopped.dump(1);
  for (const char* name : {"web-2", "web-3", "web-4"}) {
    const std::string status = rows[name].value("status", "");
    EXPECT_TRUE(status == "interrupted" || (status == "succeeded" && name == std::string("web-2")))
        << name << stopped.dump(1);
    if (status != "interrupted") continue;
    EXPECT_NE(rows[name].value("error", "").find("stopped before it finished"), std::string::npos)
        << name << stopped.dump(1);
  }
  EXPECT_EQ(rows["web-4"].value("status", ""), "interrupted") << stopped.dump(1);
  WaitAllRun(next);
  json finishing;
  const std::string actor = "finishing deployment " + std::to_string(id);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["actor"].get<std::string>().rfind(actor, 0) == 0 && d["status"] == "succeeded") {
            finishing = d;
          }
        }
        return !finishing.is_null();
      },
      std::chrono::seconds(60)))
      << Deployments().dump(1);
  EXPECT_EQ(finishing["machine"], "box-b") << finishing.dump(1);
  // web-1 had switched already: it was not started again.
  EXPECT_EQ(Machine("web-1")["projects"][0]["pid"], web1_pid);
  for (const char* name : {"web-1", "web-2", "web-3", "web-4"}) {
    EXPECT_EQ(HellosOn(agents_[name].port), 1) << name;
  }
}

// `shared` reaches the agents: each machine keeps its own shared path,
// linked into every release it runs (what its program wrote in the first
// release is there in the second).
TEST_F(AgentsTest, EachMachineKeepsItsSharedPathAcrossReleases) {
  StartFleet("{ batch = 2, min_healthy = \"0s\", agent_timeout = \"60s\" }",
             "shared = [\"state\"]\n", 2, "echo \"$MACHINE\" >> state/starts");
  const std::string first = Head();
  ASSERT_FALSE(WaitSucceeded(first).is_null());
  WaitAllRun(first);
  const std::string second = CommitChange("second");
  ASSERT_FALSE(WaitSucceeded(second).is_null());
  WaitAllRun(second);
  for (const char* name : {"web-1", "web-2"}) {
    const fs::path data = dir_ / name / "data" / "projects" / "hello";
    const std::string starts = testing::ReadFile(data / "shared" / "state" / "starts");
    EXPECT_EQ(starts, std::string(name) + "\n" + name + "\n") << name;
    for (const auto& r : fs::directory_iterator(data / "releases")) {
      EXPECT_TRUE(fs::is_symlink(r.path() / "state")) << r.path();
    }
  }
  StopAnthill();
}

}  // namespace
}  // namespace anthill::e2e
