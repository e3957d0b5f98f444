#include "cli/agent_settings.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "testing/testing.h"

namespace anthill::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kToken = "web-3.0123456789abcdef";

// A config file with an [agent] section (and `extra` in it) in dir.
config::Config AgentConfig(const testing::TempDir& dir, const std::string& extra = "") {
  testing::WriteFile(dir / "agent.toml", R"toml([agent]
servers = ["http://deploy-1:7070", "http://deploy-2:7070"]
labels = ["web"]
data_dir = "data"
env = { PORT = "8080", REGION = "eu" }
)toml" + extra);
  auto cfg = config::Load(dir / "agent.toml");
  EXPECT_TRUE(cfg.ok()) << cfg.error();
  return cfg.ok() ? *cfg : config::Config{};
}

TEST(AgentSettings, TheSectionGivesWhatTheCommandLineDoesNot) {
  testing::TempDir dir;
  const config::Config cfg = AgentConfig(dir);
  Options o;
  o.servers = {"http://deploy-3:7070"};
  o.agent_env = {"PORT=9090", "EXTRA=a=b"};
  auto s = AgentSettingsOf(o, &cfg, kToken);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->servers, (std::vector<std::string>{"http://deploy-3:7070"})) << "--server wins";
  EXPECT_EQ(s->labels, (std::vector<std::string>{"web"}));
  EXPECT_EQ(s->data_dir, dir / "data");
  EXPECT_EQ(s->env, (std::map<std::string, std::string>{
                        {"PORT", "9090"}, {"REGION", "eu"}, {"EXTRA", "a=b"}}))
      << "--env per key";
  EXPECT_EQ(s->token, kToken);
  EXPECT_EQ(s->machine, "web-3") << "the token's name";
  EXPECT_TRUE(agent::CheckSettings(*s, true).ok()) << agent::CheckSettings(*s, true).message();

  o.machine = "web-9";
  s = AgentSettingsOf(o, &cfg, kToken);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->machine, "web-9");
}

TEST(AgentSettings, TheTokenFileWhenTheEnvironmentHasNone) {
  testing::TempDir dir;
  testing::WriteFile(dir / "agent.token", std::string("  ") + kToken + "\n");
  ASSERT_EQ(chmod((dir / "agent.token").c_str(), 0600), 0);
  const config::Config cfg =
      AgentConfig(dir, "token_file = \"agent.token\"\nmachine = \"web-3\"\n");
  auto s = AgentSettingsOf(Options{}, &cfg, nullptr);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->token, kToken);
  EXPECT_EQ(s->machine, "web-3");

  s = AgentSettingsOf(Options{}, &cfg, "web-3.fromtheenvironment");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->token, "web-3.fromtheenvironment") << "ANTHILL_AGENT_TOKEN wins";
  s = AgentSettingsOf(Options{}, &cfg, "");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->token, kToken) << "an empty ANTHILL_AGENT_TOKEN is unset";
}

TEST(AgentSettings, RefusesATokenEveryUserMayRead) {
  testing::TempDir dir;
  testing::WriteFile(dir / "agent.token", kToken);
  ASSERT_EQ(chmod((dir / "agent.token").c_str(), 0644), 0);
  const config::Config cfg = AgentConfig(dir, "token_file = \"agent.token\"\n");
  auto s = AgentSettingsOf(Options{}, &cfg, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), (dir / "agent.toml").string() +
                           ":6: key 'token_file' in [agent]: " + (dir / "agent.token").string() +
                           " may be read by every user: chmod o-r it (600 is best)");
}

TEST(AgentSettings, SaysWhatIsMissing) {
  testing::TempDir dir;
  const config::Config with_missing_file = AgentConfig(dir, "token_file = \"nope.token\"\n");
  auto s = AgentSettingsOf(Options{}, &with_missing_file, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("agent.toml:6: key 'token_file' in [agent]: "), std::string::npos)
      << s.error();
  EXPECT_NE(s.error().find("nope.token"), std::string::npos) << s.error();

  testing::WriteFile(dir / "empty.token", "\n");
  ASSERT_EQ(chmod((dir / "empty.token").c_str(), 0600), 0);
  const config::Config with_empty = AgentConfig(dir, "token_file = \"empty.token\"\n");
  s = AgentSettingsOf(Options{}, &with_empty, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("empty.token is empty"), std::string::npos) << s.error();

  Options o;
  o.machine = "web-1";
  s = AgentSettingsOf(o, nullptr, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(),
            "no agent token: set ANTHILL_AGENT_TOKEN (or [agent] token_file) to the token "
            "`anthill agents add web-1` printed on the orchestrator");

  testing::WriteFile(dir / "server.toml", "[server]\nmachine = \"x\"\n");
  auto server_only = config::Load(dir / "server.toml");
  ASSERT_TRUE(server_only.ok()) << server_only.error();
  s = AgentSettingsOf(Options{}, &*server_only, kToken);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error(), (dir / "server.toml").string() +
                           ": no [agent] section (servers, machine, data_dir, ...) for `anthill "
                           "agent -c`");
}

}  // namespace
}  // namespace anthill::cli
