#include "deploy/agent_protocol.h"

#include <gtest/gtest.h>

namespace anthill::deploy {
namespace {

DesiredProject ProjectNamed(const std::string& name) {
  DesiredProject p;
  p.project = name;
  p.deployment_id = 42;
  AgentRelease r;
  r.release = "20261128T101500Z-1a2b3c4d5e6f";
  r.version = "main-1a2b3c4d";
  r.commit = std::string(40, 'a');
  r.artifact_key = name + "/" + r.release + ".tar.zst";
  r.sha256 = std::string(64, 'b');
  r.size = 1234;
  p.fetch = {r};
  p.run = r;
  p.program.run = "./serve --name \"caf\xC3\xA9\"";
  p.program.shared = {"instance", "config/secrets.yml"};
  return p;
}

// An orchestrator answers a poll from the projects' stored JSON, spliced
// in (DesiredStateJson): the agent must read exactly what ToJson wrote.
TEST(AgentProtocol, ADesiredStateFromStoredProjectsReadsAsTheOneItWasMadeFrom) {
  DesiredState state;
  state.generation = 7;
  state.artifacts.store = "s3://bucket/prefix";
  state.artifacts.endpoint = "http://127.0.0.1:9000";
  state.projects = {ProjectNamed("api"), ProjectNamed("web")};

  const std::string api = ToJson(state.projects[0]), web = ToJson(state.projects[1]);
  const std::string spliced = DesiredStateJson(7, state.artifacts, {api, web});
  EXPECT_EQ(spliced, ToJson(state));
  auto read = ParseDesiredState(spliced);
  ASSERT_TRUE(read.ok()) << read.error();
  EXPECT_EQ(read->generation, 7);
  EXPECT_EQ(read->artifacts.store, "s3://bucket/prefix");
  EXPECT_EQ(read->artifacts.endpoint, "http://127.0.0.1:9000");
  ASSERT_EQ(read->projects.size(), 2u);
  EXPECT_EQ(read->projects[1].project, "web");
  EXPECT_EQ(read->projects[1].deployment_id, 42);
  ASSERT_TRUE(read->projects[1].run.has_value());
  EXPECT_EQ(*read->projects[1].run, state.projects[1].fetch[0]);
  EXPECT_EQ(read->projects[1].program.run, "./serve --name \"caf\xC3\xA9\"");
  EXPECT_EQ(read->projects[1].program, state.projects[1].program);  // shared paths and all

  auto none = ParseDesiredState(DesiredStateJson(3, {}, {}));
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(none->generation, 3);
  EXPECT_TRUE(none->projects.empty());
}

}  // namespace
}  // namespace anthill::deploy
