#include "agent/environment.h"

#include <gtest/gtest.h>

namespace anthill::agent {
namespace {

TEST(ExpandVars, NamesTheAgentsValuesAndLeavesUnknownOnesAsWritten) {
  const EnvMap vars = {{"PORT", "8081"}, {"ZONE", "eu"}};
  struct Case {
    std::string in, out;
  } cases[] = {
      {"http://127.0.0.1:${PORT}/healthz", "http://127.0.0.1:8081/healthz"},
      {"${ZONE}-${PORT}", "eu-8081"},
      {"${MISSING} and ${PORT}", "${MISSING} and 8081"},
      {"$PORT ${PORT", "$PORT ${PORT"},
      {"", ""},
  };
  for (const auto& c : cases) EXPECT_EQ(ExpandVars(c.in, vars), c.out) << c.in;
}

TEST(ProgramEnvironment, LaterSourcesWinButAnthillsOwnAreTheTruth) {
  const std::vector<std::string> base = {"PATH=/usr/bin", "ANTHILL_AGENT_TOKEN=secret",
                                         "NOTIFY_SOCKET=/x", "PORT=1", "HOME=/root"};
  const EnvMap agent = {{"PORT", "8081"}, {"ZONE", "eu"}};
  const std::vector<std::string> project = {"GREETING=hi from ${ZONE}:${PORT}", "HOME=/srv",
                                            "ANTHILL_MACHINE=liar"};
  build::Identity id{"hello",         std::string(40, 'a'),
                     "main-aaaaaaaa", "refs/heads/main",
                     "web-1",         "/data/projects/hello/releases/r1"};
  EXPECT_EQ(ProgramEnvironment(base, agent, project, id),
            (std::vector<std::string>{
                "ANTHILL_COMMIT=" + std::string(40, 'a'),
                "ANTHILL_MACHINE=web-1",
                "ANTHILL_PROJECT=hello",
                "ANTHILL_REF=refs/heads/main",
                "ANTHILL_RELEASE_DIR=/data/projects/hello/releases/r1",
                "ANTHILL_VERSION=main-aaaaaaaa",
                "GREETING=hi from eu:8081",
                "HOME=/srv",
                "PATH=/usr/bin",
                "PORT=8081",
                "ZONE=eu",
            }));
}

TEST(SpecOf, TheAgentsPathsAndExpandedAddresses) {
  deploy::AgentProgram p;
  p.run = "./app";
  p.health.kind = config::HealthCheck::Kind::kHttp;
  p.health.target = "http://127.0.0.1:${PORT}/";
  p.listen = {"tcp://127.0.0.1:${PORT}"};
  const supervise::ProgramSpec s = SpecOf("hello", p, "/data", {{"PORT", "9000"}});
  EXPECT_EQ(s.health.target, "http://127.0.0.1:9000/");
  EXPECT_EQ(s.listen, std::vector<std::string>{"tcp://127.0.0.1:9000"});
  EXPECT_EQ(s.app_log, "/data/logs/app/hello.log");
  EXPECT_EQ(s.releases_dir, "/data/projects/hello/releases");
  EXPECT_EQ(s.notify_socket, "/data/run/hello.notify");
}

TEST(SafeName, OnlyPlainFileNames) {
  for (const char* ok : {"hello", "web-1.eu_2", "20260101T000000Z-aaaaaaaaaaaa"}) {
    EXPECT_TRUE(SafeName(ok)) << ok;
  }
  for (const char* bad : {"", ".", "..", "a/b", "a b", "../x"}) EXPECT_FALSE(SafeName(bad)) << bad;
}

}  // namespace
}  // namespace anthill::agent
