// Push triggers, the build queue, tag rules, manual deploy and rollback, end
// to end: real git (a bare repository with a post-receive hook), real signed
// webhook bodies over loopback, the real anthill binary.
#include <sys/stat.h>

#include <set>

#include "tests/e2e/harness.h"
#include "watch/hooks.h"

namespace anthill::e2e {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> StepNames(const json& d) {
  std::vector<std::string> names;
  for (const auto& s : d["steps"]) names.push_back(s["name"]);
  return names;
}

// Every deployment of `commit`, newest first.
json DeploymentsOf(const json& all, const std::string& commit) {
  json out = json::array();
  for (const auto& d : all) {
    if (d["to_commit"] == commit) out.push_back(d);
  }
  return out;
}

class TriggersTest : public AnthillTest {
 protected:
  // A build that waits until the test opens the gate: lets a test act while
  // a build is in flight without guessing how long it takes.
  std::string GatedBuild() {
    return "while [ ! -e " + gate().string() + " ]; do sleep 0.02; done; make";
  }
  fs::path gate() const { return dir_ / "gate"; }
  void OpenGate() { testing::WriteFile(gate(), ""); }
  void CloseGate() { fs::remove(gate()); }

  // The id of the newest deployment of commit, once there is one.
  int64_t WaitQueued(const std::string& commit) {
    int64_t id = 0;
    EXPECT_TRUE(testing::WaitUntil(
        [&] {
          json list = DeploymentsOf(Deployments(), commit);
          if (list.empty()) return false;
          id = list[0]["id"];
          return true;
        },
        std::chrono::seconds(30)))
        << "no deployment of " << commit;
    return id;
  }
};

TEST_F(TriggersTest, PostReceiveHookCallingNotifyDeploysWithoutPolling) {
  // The setup the README shows: a bare repository whose post-receive hook
  // runs `anthill notify`; anthill itself never polls (poll = "0").
  fs::path bare = dir_ / "hello.git";
  testing::Sh(dir_.path(), "git clone -q --bare origin " + bare.string());
  ProjectOptions o;
  o.poll = "0";
  WriteConfig(o);
  std::string text = testing::ReadFile(config_path_);
  size_t at = text.find(origin().string());
  text.replace(at, origin().string().size(), bare.string());
  testing::WriteFile(config_path_, text);
  testing::WriteFile(bare / "hooks/post-receive",
                     "#!/bin/sh\nwhile read old new ref; do\n  '" + std::string(ANTHILL_BINARY) +
                         "' notify hello -c '" + config_path_.string() +
                         "' --ref \"$ref\" --commit \"$new\" || true\ndone\n");
  chmod((bare / "hooks/post-receive").c_str(), 0755);

  StartAnthill();
  std::string first = Head();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded") << "poll = 0 still looks once at start";

  std::string second = CommitChange("pushed");
  testing::Sh(origin(), "git push -q " + bare.string() + " main");
  // The hook ran before `git push` returned: the deployment is already on record.
  json now = DeploymentsOf(Deployments(), second);
  ASSERT_EQ(now.size(), 1u) << "the push itself must queue the deployment";
  json d = WaitFinished(second);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["trigger"], "notify");
  EXPECT_FALSE(d["actor"].get<std::string>().empty());
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
}

TEST_F(TriggersTest, SignedGithubPushDeploysAndBadOrReplayedOnesDoNot) {
  ProjectOptions o;
  o.poll = "0";
  o.extra = "webhook_secret = \"s3cret\"\n";
  WriteConfig(o);
  StartAnthill();
  ASSERT_EQ(WaitFinished(Head())["status"], "succeeded");

  std::string sha = CommitChange("via webhook");
  json payload{{"ref", "refs/heads/main"},
               {"before", std::string(40, '0')},
               {"after", sha},
               {"created", false},
               {"deleted", false},
               {"forced", false},
               {"repository",
                {{"id", 1296269},
                 {"name", "hello"},
                 {"full_name", "tester/hello"},
                 {"clone_url", origin().string() + ".git"},
                 {"html_url", "https://example.invalid/tester/hello"}}},
               {"pusher", {{"name", "octocat"}, {"email", "octocat@example.invalid"}}},
               {"sender", {{"login", "octocat"}}}};
  std::string body = payload.dump();
  auto headers = [&](const std::string& secret, const std::string& delivery) {
    return std::vector<std::pair<std::string, std::string>>{
        {"X-GitHub-Event", "push"},
        {"X-GitHub-Delivery", delivery},
        {"X-Hub-Signature-256", "sha256=" + watch::HmacSha256Hex(secret, body)}};
  };
  EXPECT_EQ(Post("/hooks/github", body, headers("wrong", "d-1")).first, 401);
  EXPECT_EQ(Post("/hooks/github", body, {{"X-GitHub-Event", "push"}}).first, 401);
  std::string cut = body.substr(0, body.size() - 10);
  EXPECT_EQ(Post("/hooks/github", cut,
                 {{"X-GitHub-Event", "push"},
                  {"X-Hub-Signature-256", "sha256=" + watch::HmacSha256Hex("s3cret", cut)}})
                .first,
            400);
  EXPECT_TRUE(DeploymentsOf(Deployments(), sha).empty()) << "refused hooks deploy nothing";

  auto [status, answer] = Post("/hooks/github", body, headers("s3cret", "d-2"));
  ASSERT_EQ(status, 202) << answer;
  json d = WaitFinished(sha);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["trigger"], "webhook");
  EXPECT_EQ(d["actor"], "octocat");

  auto [again, again_body] = Post("/hooks/github", body, headers("s3cret", "d-2"));
  EXPECT_EQ(again, 200);
  EXPECT_NE(again_body.find("duplicate"), std::string::npos);
  EXPECT_EQ(DeploymentsOf(Deployments(), sha).size(), 1u);
  json hooks = Api("/api/v1/hooks");
  // Verified deliveries are stored, the malformed one too, with its verdict;
  // the unsigned and wrongly signed ones are not.
  ASSERT_EQ(hooks["hooks"].size(), 2u) << hooks.dump(1);
  EXPECT_EQ(hooks["hooks"][0]["delivery_id"], "d-2");
  EXPECT_EQ(hooks["hooks"][0]["commit"], sha);
  EXPECT_EQ(hooks["hooks"][1]["verdict"].get<std::string>().rfind("malformed: ", 0), 0u)
      << hooks.dump(1);
}

TEST_F(TriggersTest, FiveQuickPushesCoalesceIntoAtMostTwoBuilds) {
  ProjectOptions o;
  o.poll = "0";
  o.build = GatedBuild();
  WriteConfig(o);
  OpenGate();
  StartAnthill();
  ASSERT_EQ(WaitFinished(Head())["status"], "succeeded");
  CloseGate();

  std::vector<std::string> pushed;
  for (int i = 0; i < 5; ++i) {
    pushed.push_back(CommitChange("push " + std::to_string(i)));
    auto [code, out] = RunCli({"notify", "hello", "-c", config_path_.string(), "--ref",
                               "refs/heads/main", "--commit", pushed.back()});
    ASSERT_EQ(code, 0) << out;
    if (i == 0) {
      ASSERT_TRUE(WaitStep(WaitQueued(pushed[0]), "build", "running"));
    }
  }
  OpenGate();
  json last = WaitFinished(pushed[4]);
  EXPECT_EQ(last["status"], "succeeded") << last.dump(1);
  json all = Deployments();
  EXPECT_EQ(DeploymentsOf(all, pushed[0])[0]["status"], "succeeded");
  for (int i = 1; i <= 3; ++i) {
    json d = DeploymentsOf(all, pushed[i])[0];
    EXPECT_EQ(d["status"], "cancelled") << d.dump(1);
    EXPECT_EQ(d["error"], "superseded by main-" + pushed[i + 1].substr(0, 8));
    EXPECT_TRUE(d["steps"].empty()) << "a superseded deployment never built";
  }
  int builds = 0;
  for (const auto& d : all) {
    for (const auto& s : d["steps"]) builds += s["name"] == "build";
  }
  EXPECT_EQ(builds, 1 + 2) << "the first deploy, then at most two for five pushes";
  EXPECT_NE(AppGet("/").find("main-" + pushed[4].substr(0, 8)), std::string::npos);
}

TEST_F(TriggersTest, QuietPeriodLetsABurstOfPushesSettleIntoOneBuild) {
  ProjectOptions o;
  o.poll = "0";
  o.extra = "quiet_period = \"2s\"\n";
  WriteConfig(o);
  StartAnthill();
  ASSERT_EQ(WaitFinished(Head())["status"], "succeeded");
  std::vector<std::string> pushed;
  for (int i = 0; i < 3; ++i) {
    pushed.push_back(CommitChange("burst " + std::to_string(i)));
    auto [code, out] = RunCli({"notify", "hello", "-c", config_path_.string(), "--ref",
                               "refs/heads/main", "--commit", pushed.back()});
    ASSERT_EQ(code, 0) << out;
  }
  json queue = Api("/api/v1/queue");
  EXPECT_NE(queue["projects"][0]["waiting"]["reason"].get<std::string>().find("quiet period"),
            std::string::npos)
      << queue.dump(1);
  json last = WaitFinished(pushed[2]);
  EXPECT_EQ(last["status"], "succeeded") << last.dump(1);
  json all = Deployments();
  for (int i = 0; i < 2; ++i) {
    json d = DeploymentsOf(all, pushed[i])[0];
    EXPECT_EQ(d["status"], "cancelled") << d.dump(1);
    EXPECT_TRUE(d["steps"].empty()) << "nothing was built during the quiet period";
  }
}

TEST_F(TriggersTest, CancelDuringBuildStopsItAndKeepsTheOldVersion) {
  ProjectOptions o;
  o.build = GatedBuild();
  WriteConfig(o);
  OpenGate();
  StartAnthill();
  std::string first = Head();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  int64_t pid = Project()["pid"];
  CloseGate();

  std::string sha = CommitChange("to be cancelled");
  int64_t id = WaitQueued(sha);
  ASSERT_TRUE(WaitStep(id, "build", "running"));
  json queue = Api("/api/v1/queue");
  EXPECT_EQ(queue["projects"][0]["running"]["id"], id);
  EXPECT_EQ(queue["projects"][0]["running"]["phase"], "building");

  auto [code, out] = RunCli({"cancel", std::to_string(id), "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  json d = WaitDeploymentEnded(id);
  EXPECT_EQ(d["status"], "cancelled") << d.dump(1);
  EXPECT_EQ(d["error"].get<std::string>().rfind("cancelled by ", 0), 0u) << d["error"];
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"fetch", "build"}));
  EXPECT_EQ(d["steps"][1]["status"], "cancelled");
  json p = Project();
  EXPECT_EQ(p["pid"], pid) << "the old version keeps running";
  EXPECT_EQ(p["pinned_out_commit"], sha) << "a cancelled commit is not rebuilt by the next poll";
  EXPECT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);
  EXPECT_EQ(RunCli({"cancel", std::to_string(id), "-c", config_path_.string()}).first, 3)
      << "an ended deployment cannot be cancelled";
}

TEST_F(TriggersTest, TagRuleDeploysTheNewestMatchingTagAndAMovedTag) {
  ProjectOptions o;
  o.rule = "tags = \"release-*\"";
  WriteConfig(o);
  std::string one = Head();
  testing::Sh(origin(), "git tag release-9 && git tag other-99");
  StartAnthill();
  json d = WaitFinished(one);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["to_version"], "release-9");
  EXPECT_EQ(d["ref"], "refs/tags/release-9");

  std::string two = CommitChange("two");
  testing::Sh(origin(), "git tag -a -m 'ten' release-10");  // annotated; sorts after 9
  d = WaitFinished(two);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["to_version"], "release-10");
  EXPECT_NE(AppGet("/").find("release-10"), std::string::npos);

  std::string three = CommitChange("three");
  testing::Sh(origin(), "git tag -f -a -m 'ten again' release-10 >/dev/null");  // the tag moves
  d = WaitFinished(three);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["to_version"], "release-10");
  EXPECT_EQ(d["from_commit"], two);
}

TEST_F(TriggersTest, RollbackWithoutBuildingPinsTheBadCommitAndDeployReuses) {
  ProjectOptions o;
  o.server_extra = "token = \"t0k\"\n";
  WriteConfig(o);
  StartAnthill();
  std::string good = Head();
  ASSERT_EQ(WaitFinished(good)["status"], "succeeded");
  std::string bad = CommitChange("the one we regret");
  ASSERT_EQ(WaitFinished(bad)["status"], "succeeded");

  EXPECT_EQ(Post("/api/v1/projects/hello/rollback", "{}").first, 401) << "token required";
  auto [code, out] = RunCli({"rollback", "hello", "-c", config_path_.string()});
  ASSERT_EQ(code, 0) << out;
  json d = Deployments()[0];
  EXPECT_EQ(d["trigger"], "rollback");
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_EQ(d["from_commit"], bad);
  EXPECT_EQ(d["to_commit"], good);
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"stop", "start", "healthcheck"}));
  EXPECT_NE(AppGet("/").find("main-" + good.substr(0, 8)), std::string::npos);

  // The head is still `bad`: polls and pushes leave it out.
  EXPECT_EQ(Project()["pinned_out_commit"], bad);
  auto [ncode, nout] = RunCli({"notify", "hello", "-c", config_path_.string(), "--ref",
                               "refs/heads/main", "--commit", bad});
  EXPECT_EQ(ncode, 0);
  EXPECT_NE(nout.find("is pinned out (rolled back from by "), std::string::npos) << nout;

  // By hand it comes back, from its release: no fetch, no build.
  auto [dcode, dout] = RunCli({"deploy", "hello", "--ref", "main", "-c", config_path_.string()});
  EXPECT_EQ(dcode, 0) << dout;
  d = Deployments()[0];
  EXPECT_EQ(d["trigger"], "manual");
  EXPECT_EQ(d["to_commit"], bad);
  EXPECT_EQ(StepNames(d), (std::vector<std::string>{"release", "stop", "start", "healthcheck"}));
  EXPECT_EQ(Project()["pinned_out_commit"], "");

  // Back to a named version, and a newer commit is deployed as usual.
  auto [tcode, tout] = RunCli(
      {"rollback", "hello", "--to", "main-" + good.substr(0, 8), "-c", config_path_.string()});
  EXPECT_EQ(tcode, 0) << tout;
  EXPECT_EQ(Deployments()[0]["to_commit"], good);
  EXPECT_EQ(
      RunCli({"rollback", "hello", "--to", "main-00000000", "-c", config_path_.string()}).first, 3);
  std::string newer = CommitChange("the fix");
  EXPECT_EQ(WaitFinished(newer)["status"], "succeeded");
}

TEST_F(TriggersTest, MaxParallelBuildsMakesTheSecondProjectWaitForASlot) {
  ProjectOptions o;
  o.build = GatedBuild();
  o.server_extra = "max_parallel_builds = 1\n";
  int other_port = testing::FreePort();
  o.extra = "\n[[project]]\nname = \"other\"\nrepo = \"" + origin().string() +
            "\"\npoll = \"100ms\"\nbuild = \"" + GatedBuild() + "\"\nrun = \"./hello --port " +
            std::to_string(other_port) +
            "\"\nhealth = { http = \"http://127.0.0.1:" + std::to_string(other_port) +
            "/healthz\", interval = \"50ms\" }\n";
  WriteConfig(o);
  StartAnthill();
  json queue;
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        queue = Api("/api/v1/queue");
        if (queue.is_null()) return false;
        std::multiset<std::string> phases;
        for (const auto& q : queue["projects"]) {
          if (!q["running"].is_null()) phases.insert(q["running"]["phase"].get<std::string>());
        }
        return phases == std::multiset<std::string>{"building", "waiting for a build slot"};
      },
      std::chrono::seconds(30)))
      << queue.dump(1);
  EXPECT_EQ(queue["builds_running"], 1);
  EXPECT_EQ(queue["max_parallel_builds"], 1);
  OpenGate();
  std::string sha = Head();
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        int done = 0;
        for (const auto& d : DeploymentsOf(Deployments(), sha)) done += d["status"] == "succeeded";
        return done == 2;
      },
      std::chrono::seconds(60)))
      << Deployments().dump(1);
}

}  // namespace
}  // namespace anthill::e2e
