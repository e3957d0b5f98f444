// Zero-downtime swaps end to end: Anthill holds the listening socket, hands
// it to each version (LISTEN_FDS, LISTEN_PID, NOTIFY_SOCKET), starts the new
// one next to the old and stops the old only once the new said READY=1.
#include <atomic>
#include <thread>

#include "http/client.h"
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

class ZeroDowntimeTest : public AnthillTest {
 protected:
  void Configure() {
    ProjectOptions o;
    std::string port = std::to_string(app_port_);
    o.health = "{ http = \"http://127.0.0.1:" + port +
               "/healthz\", timeout = \"2s\", interval = \"50ms\" }";
    o.extra = "listen = [\"tcp://127.0.0.1:" + port + "\"]\nready = \"notify\"\n";
    WriteConfig(o);
  }
};

TEST_F(ZeroDowntimeTest, NewVersionStartsBesideTheOldAndNoRequestFails) {
  Configure();
  StartAnthill();
  std::string first = Head();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  int64_t old_pid = Project()["pid"];

  // Requests back to back on loopback for as long as the swap takes.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::thread load([&] {
    while (!stop) {
      auto r = http::Fetch("GET", "127.0.0.1:" + std::to_string(app_port_), "/");
      (r.ok() && r->status == 200 ? ok : failed)++;
    }
  });
  std::string second = CommitChange("second");
  json d = WaitFinished(second);
  stop = true;
  load.join();

  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  std::vector<std::string> steps;
  for (const auto& s : d["steps"]) steps.push_back(s["name"]);
  EXPECT_EQ(steps, (std::vector<std::string>{"fetch", "build", "test", "release", "start",
                                             "healthcheck", "stop"}))
      << "start -> ready -> stop";
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(failed.load(), 0) << "of " << ok + failed << " requests";
  EXPECT_FALSE(ProcessAlive(old_pid));
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
  std::string log = testing::ReadFile(dir_ / "data/logs/app/hello.log");
  EXPECT_NE(log.find("serving the passed socket"), std::string::npos) << log;
}

TEST_F(ZeroDowntimeTest, AVersionThatNeverGetsReadyIsStoppedAndTheOldNeverNoticed) {
  Configure();
  StartAnthill();
  std::string first = Head();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  int64_t old_pid = Project()["pid"];

  std::string bad = CommitMode("never-ready");
  json d = WaitFinished(bad);
  EXPECT_EQ(d["status"], "rolled_back") << d.dump(1);
  EXPECT_NE(d["error"].get<std::string>().find("READY=1"), std::string::npos) << d["error"];
  json p = Project();
  EXPECT_EQ(p["pid"], old_pid) << "the old program was never stopped";
  EXPECT_EQ(p["version"], "main-" + first.substr(0, 8));
  EXPECT_NE(AppGet("/").find("main-" + first.substr(0, 8)), std::string::npos);
}

TEST_F(ZeroDowntimeTest, ARestartedAnthillTakesTheSocketBackFromTheProgram) {
  Configure();
  StartAnthill();
  std::string first = Head();
  ASSERT_EQ(WaitFinished(first)["status"], "succeeded");
  StopAnthill();
  StartAnthill();
  std::string second = CommitChange("after restart");
  json d = WaitFinished(second);
  EXPECT_EQ(d["status"], "succeeded") << d.dump(1);
  EXPECT_NE(testing::ReadFile(dir_ / "anthill.log").find("back from pid"), std::string::npos);
  EXPECT_NE(AppGet("/").find("main-" + second.substr(0, 8)), std::string::npos);
}

}  // namespace
}  // namespace anthill::e2e
