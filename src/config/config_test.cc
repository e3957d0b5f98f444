#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "testing/testing.h"

namespace anthill::config {
namespace {

const char* kFull = R"toml([server]
listen = "127.0.0.1:7171"
data_dir = "/var/lib/anthill"
machine = "web-1"
token = "t0k"
max_parallel_builds = 2
allowed_hosts = ["deploy.example.com", "deploy"]

[[project]]
name = "hello"
repo = "/srv/git/hello.git"
branch = "stable"
poll = "1m30s"
quiet_period = "2s"
webhook_secret = "s3cret"
build = "make"
test = "make check"
build_timeout = "5m"
clean = "on-failure"
artifacts = ["hello", "static/"]
shared = ["instance", "config/secrets.yml"]
run = "./hello --port 8080"
env = { PORT = "8080", MODE = "prod" }
health = { http = "http://127.0.0.1:8080/healthz", timeout = "20s", interval = "100ms", min_healthy_time = "5s" }
stop_signal = "INT"
stop_timeout = "3s"
keep_releases = 3
restart = "always"
log_max_size = "10MiB"
listen = ["tcp://0.0.0.0:8080", "unix:///run/hello.sock"]
)toml";

TEST(Config, ReadsEveryField) {
  unsetenv("ANTHILL_TOKEN");
  auto c = Parse(kFull, "/etc/anthill.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->server.listen, "127.0.0.1:7171");
  EXPECT_EQ(c->server.data_dir, "/var/lib/anthill");
  EXPECT_EQ(c->server.machine, "web-1");
  EXPECT_EQ(c->server.token, "t0k");
  EXPECT_EQ(c->server.allowed_hosts, (std::vector<std::string>{"deploy.example.com", "deploy"}));
  ASSERT_EQ(c->projects.size(), 1u);
  const Project& p = c->projects[0];
  EXPECT_EQ(p.name, "hello");
  EXPECT_EQ(p.repo, "/srv/git/hello.git");
  EXPECT_EQ(p.branch, "stable");
  EXPECT_EQ(p.poll, Duration(90000));
  EXPECT_EQ(p.quiet_period, Duration(2000));
  EXPECT_EQ(c->server.max_parallel_builds, 2);
  EXPECT_EQ(p.webhook_secret, "s3cret");
  EXPECT_EQ(p.build, "make");
  EXPECT_EQ(p.test, "make check");
  EXPECT_EQ(p.build_timeout, Duration(300000));
  EXPECT_EQ(p.clean, Project::Clean::kOnFailure);
  EXPECT_EQ(p.shared, (std::vector<std::string>{"instance", "config/secrets.yml"}));
  EXPECT_EQ(p.artifacts, (std::vector<std::string>{"hello", "static/"}));
  EXPECT_EQ(p.run, "./hello --port 8080");
  EXPECT_EQ(p.env.at("PORT"), "8080");
  EXPECT_EQ(p.env.at("MODE"), "prod");
  EXPECT_EQ(p.health.kind, HealthCheck::Kind::kHttp);
  EXPECT_EQ(p.health.target, "http://127.0.0.1:8080/healthz");
  EXPECT_EQ(p.health.timeout, Duration(20000));
  EXPECT_EQ(p.health.interval, Duration(100));
  EXPECT_EQ(p.health.min_healthy_time, Duration(5000));
  EXPECT_EQ(p.stop_signal, 2);
  EXPECT_EQ(p.stop_signal_name, "SIGINT");
  EXPECT_EQ(p.stop_timeout, Duration(3000));
  EXPECT_EQ(p.keep_releases, 3);
  EXPECT_EQ(p.restart, Project::Restart::kAlways);
  EXPECT_EQ(p.log_max_size, 10 << 20);
  EXPECT_EQ(p.listen.size(), 2u);
  EXPECT_EQ(p.line, 9);
  EXPECT_NE(c->FindProject("hello"), nullptr);
  EXPECT_EQ(c->FindProject("nope"), nullptr);
}

TEST(Config, DefaultsAndRelativePaths) {
  unsetenv("ANTHILL_TOKEN");
  auto c = Parse("[[project]]\nname = \"a\"\nrepo = \"./a-repo\"\nrun = \"./a\"\n",
                 "/srv/conf/anthill.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->server.listen, "127.0.0.1:7070");
  EXPECT_EQ(c->server.data_dir, "/srv/conf/anthill-data");
  EXPECT_FALSE(c->server.machine.empty());
  const Project& p = c->projects[0];
  EXPECT_EQ(p.repo, "/srv/conf/a-repo");
  EXPECT_EQ(p.branch, "main");
  EXPECT_EQ(p.poll, Duration(10000));
  EXPECT_EQ(p.health.kind, HealthCheck::Kind::kNone);
  EXPECT_EQ(p.stop_signal, 15);
  EXPECT_EQ(p.stop_timeout, Duration(10000));
  EXPECT_EQ(p.keep_releases, 5);
  EXPECT_EQ(p.clean, Project::Clean::kNever);
  EXPECT_TRUE(p.artifacts.empty());
}

TEST(Config, ReadsTheFleetTables) {
  auto c = Parse(R"toml([server]
machine = "box-1"
database = "postgresql://anthill@db/anthill"
roles = ["builder"]

[builder]
labels = ["gpu", "linux-x86_64"]
slots = 2
orchestrator = "http://deploy.internal:7070/"

[artifacts]
store = "s3://anthill-artifacts/prod"
region = "eu-west-1"
)toml",
                 "a.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_FALSE(c->server.roles.orchestrator);
  EXPECT_TRUE(c->server.roles.builder);
  EXPECT_FALSE(c->server.roles.agent);
  EXPECT_EQ(c->server.roles.Describe(), "builder");
  EXPECT_EQ(c->server.roles_line, 4);
  EXPECT_EQ(c->builder.name, "box-1");  // the machine's, when not given
  EXPECT_EQ(c->builder.labels, (std::vector<std::string>{"gpu", "linux-x86_64"}));
  EXPECT_EQ(c->builder.slots, 2);
  EXPECT_EQ(c->builder.orchestrator, "http://deploy.internal:7070");
  EXPECT_EQ(c->artifacts.store, "s3://anthill-artifacts/prod");
  EXPECT_EQ(c->artifacts.endpoint, "https://s3.eu-west-1.amazonaws.com");
}

TEST(Config, ReadsTheAgentSection) {
  auto c = Parse(R"toml([agent]
servers = ["http://deploy-1:7070/", "http://10.0.0.2:7070"]
machine = "web-3"
labels = ["web", "eu"]
data_dir = "agent-data"
token_file = "/etc/anthill/agent.token"
env = { PORT = "8080", REGION = "eu" }
)toml",
                 "/etc/anthill/agent.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->agent.line, 1);
  EXPECT_EQ(c->agent.servers,
            (std::vector<std::string>{"http://deploy-1:7070", "http://10.0.0.2:7070"}));
  EXPECT_EQ(c->agent.machine, "web-3");
  EXPECT_EQ(c->agent.labels, (std::vector<std::string>{"web", "eu"}));
  EXPECT_EQ(c->agent.data_dir, "/etc/anthill/agent-data");  // beside the file
  EXPECT_EQ(c->agent.token_file, "/etc/anthill/agent.token");
  EXPECT_EQ(c->agent.token_file_line, 6);
  EXPECT_EQ(c->agent.env, (std::map<std::string, std::string>{{"PORT", "8080"}, {"REGION", "eu"}}));

  auto none = Parse("[server]\nmachine = \"x\"\n", "a.toml");
  ASSERT_TRUE(none.ok()) << none.error();
  EXPECT_EQ(none->agent.line, 0) << "no [agent]";
}

TEST(Config, ReadsWhereAProjectRunsAndHowItRollsOut) {
  auto c = Parse(R"toml([[project]]
name = "web"
repo = "/r"
run = "./web"
machines = ["web-*", "edge-[12]"]
labels = ["web", "eu"]
listen = ["tcp://0.0.0.0:${PORT}", "tcp://${ADDR}:80${N}"]
rollout = { batch = "2", min_healthy = "30s", pause = "1m", on_failure = "halt", agent_timeout = "90s" }

[[project]]
name = "api"
repo = "/r"
run = "./api"
labels = ["api"]

[project.rollout]
batch = 3

[[project]]
name = "ratio"
repo = "/r"
run = "./ratio"
machines = ["db-1"]
rollout = { batch = "100%" }
)toml",
                 "a.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const Project& web = c->projects[0];
  EXPECT_TRUE(web.on_agents());
  EXPECT_EQ(web.machines, (std::vector<std::string>{"web-*", "edge-[12]"}));
  EXPECT_EQ(web.labels, (std::vector<std::string>{"web", "eu"}));
  EXPECT_EQ(web.listen, (std::vector<std::string>{"tcp://0.0.0.0:${PORT}", "tcp://${ADDR}:80${N}"}))
      << "each agent expands them";
  EXPECT_EQ(web.rollout.batch_count, 2);
  EXPECT_EQ(web.rollout.min_healthy, Duration(30000));
  EXPECT_EQ(web.rollout.pause, Duration(60000));
  EXPECT_EQ(web.rollout.on_failure, Rollout::OnFailure::kHalt);
  EXPECT_EQ(web.rollout.agent_timeout, Duration(90000));

  const Project& api = c->projects[1];
  EXPECT_TRUE(api.on_agents());
  EXPECT_EQ(api.rollout.batch_count, 3);  // [project.rollout]: the same as inline
  EXPECT_EQ(api.rollout.min_healthy, Duration(10000));

  const Project& ratio = c->projects[2];
  EXPECT_EQ(ratio.rollout.batch_count, 0);
  EXPECT_EQ(ratio.rollout.batch_percent, 100);
}

TEST(Config, RolloutDefaults) {
  auto c = Parse("[[project]]\nname = \"a\"\nrepo = \"/r\"\nrun = \"./a\"\nlabels = [\"web\"]\n",
                 "a.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  const Project& p = c->projects[0];
  EXPECT_TRUE(p.on_agents());
  EXPECT_TRUE(p.machines.empty());
  EXPECT_EQ(p.rollout.batch_count, 0);
  EXPECT_EQ(p.rollout.batch_percent, 25);
  EXPECT_EQ(p.rollout.min_healthy, Duration(10000));
  EXPECT_EQ(p.rollout.pause, Duration(0));
  EXPECT_EQ(p.rollout.on_failure, Rollout::OnFailure::kRollback);
  EXPECT_EQ(p.rollout.agent_timeout, Duration(300000));

  auto here = Parse("[[project]]\nname = \"a\"\nrepo = \"/r\"\nrun = \"./a\"\n", "a.toml");
  ASSERT_TRUE(here.ok()) << here.error();
  EXPECT_FALSE(here->projects[0].on_agents());  // the orchestrator's own machine
}

TEST(Config, EveryRoleByDefault) {
  auto c = Parse("", "a.toml");
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->server.roles.all());
  EXPECT_EQ(c->server.roles.Describe(), "orchestrator, builder, agent");
  EXPECT_EQ(c->artifacts.store, "orchestrator");
  EXPECT_EQ(c->builder.slots, 1);
}

TEST(Config, EnvironmentTokenWins) {
  setenv("ANTHILL_TOKEN", "from-env", 1);
  auto c = Parse("[server]\ntoken = \"from-file\"\n", "a.toml");
  unsetenv("ANTHILL_TOKEN");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server.token, "from-env");
}

TEST(Config, MistakesNameTheFileLineAndKey) {
  const std::string head = "[[project]]\nname = \"hello\"\nrepo = \"/r\"\nrun = \"./x\"\n";
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {head + "bogus = 1\n", "anthill.toml:5: unknown key 'bogus' in [[project]] 'hello'"},
      {"[server]\nlisten = \"x\"\n",
       "anthill.toml:2: key 'listen' in [server]: 'x' is not host:port"},
      {"[server]\nlisten = \"[::1]\"\n",
       "anthill.toml:2: key 'listen' in [server]: '[::1]' is not host:port"},
      {"[server]\nlisten = \"h:70000\"\n",
       "anthill.toml:2: key 'listen' in [server]: 'h:70000' has no valid port (1-65535)"},
      {"[server]\nmax_parallel_builds = 0\n",
       "anthill.toml:2: key 'max_parallel_builds' in [server]: must be at least 1"},
      {"[server]\nport = 1\n", "anthill.toml:2: unknown key 'port' in [server]"},
      {"[server]\nallowed_hosts = [\"http://deploy.example.com:443\"]\n",
       "anthill.toml:2: key 'allowed_hosts' in [server]: 'http://deploy.example.com:443' is not a "
       "host name (like \"deploy.example.com\": no scheme, port or path)"},
      {"colour = \"red\"\n", "anthill.toml:1: unknown key 'colour' in the top level"},
      {head + "poll = \"10\"\n",
       "anthill.toml:5: key 'poll' in [[project]] 'hello': bad duration '10': a number needs a "
       "unit (ms, s, m or h), e.g. \"10s\""},
      {head + "keep_releases = \"3\"\n",
       "anthill.toml:5: key 'keep_releases' in [[project]] 'hello': must be an integer, not a "
       "string"},
      {head + "shared = [\"../outside\"]\n",
       "anthill.toml:5: key 'shared' in [[project]] 'hello': '../outside' must be a path inside "
       "the release, like \"instance\" or \"config/secrets.yml\""},
      {head + "shared = [\"/srv/data\"]\n",
       "anthill.toml:5: key 'shared' in [[project]] 'hello': '/srv/data' must be a path inside "
       "the release, like \"instance\" or \"config/secrets.yml\""},
      {head + "shared = [\"data\", \"data/db\"]\n",
       "anthill.toml:5: key 'shared' in [[project]] 'hello': 'data/db' and 'data' overlap: list "
       "one of them"},
      {head + "clean = \"sometimes\"\n",
       "anthill.toml:5: key 'clean' in [[project]] 'hello': 'sometimes' is not one of never, "
       "on-failure, always"},
      {head + "restart = \"sometimes\"\n",
       "anthill.toml:5: key 'restart' in [[project]] 'hello': 'sometimes' is not one of "
       "on-failure, always, never"},
      {head + "log_max_size = \"lots\"\n",
       "anthill.toml:5: key 'log_max_size' in [[project]] 'hello': bad size 'lots' (e.g. "
       "\"50MiB\", \"10MB\" or bytes)"},
      {head + "keep_releases = 0\n",
       "anthill.toml:5: key 'keep_releases' in [[project]] 'hello': must be at least 1"},
      {"[[project]]\nname = \"x\"\nrun = \"./x\"\n",
       "anthill.toml:1: [[project]] 'x' is missing required key 'repo'"},
      {"[[project]]\nrepo = \"/r\"\nrun = \"./x\"\n",
       "anthill.toml:1: [[project]] is missing required key 'name'"},
      {head + "\n" + head, "anthill.toml:6: duplicate project name 'hello' (first at line 1)"},
      {head + "tags = \"release-*\"\nbranch = \"main\"\n",
       "anthill.toml:5: key 'tags' in [[project]] 'hello': set either 'branch' or 'tags', not "
       "both"},
      {head + "branch = \"-rf\"\n",
       "anthill.toml:5: key 'branch' in [[project]] 'hello': '-rf' must not start with '-'"},
      {head + "health = { http = \"x\", bogus = 1 }\n",
       "anthill.toml:5: unknown key 'bogus' in health of [[project]] 'hello'"},
      {head + "health = { tcp = \"h:1\", http = \"http://h/\" }\n",
       "anthill.toml:5: key 'health' in [[project]] 'hello': set exactly one of http, tcp or "
       "command"},
      {head + "stop_signal = \"SIGNOPE\"\n",
       "anthill.toml:5: key 'stop_signal' in [[project]] 'hello': unknown signal 'SIGNOPE'"},
      {head + "env = { PORT = 8080 }\n",
       "anthill.toml:5: key 'env' in [[project]] 'hello': value of PORT must be a string, not an "
       "integer"},
      {head + "artifacts = [\"../etc\"]\n",
       "anthill.toml:5: key 'artifacts' in [[project]] 'hello': '../etc' must be a relative path "
       "inside the workspace"},
      {"[server]\nroles = [\"builder\", \"cook\"]\n",
       "anthill.toml:2: key 'roles' in [server]: 'cook' is not one of orchestrator, builder, "
       "agent"},
      {"[server]\nroles = []\n",
       "anthill.toml:2: key 'roles' in [server]: must name at least one of orchestrator, "
       "builder, agent"},
      {"[server]\nroles = [\"agent\", \"agent\"]\n",
       "anthill.toml:2: key 'roles' in [server]: 'agent' is named twice"},
      {"[builder]\nslots = 0\n", "anthill.toml:2: key 'slots' in [builder]: must be at least 1"},
      {"[builder]\nlabels = [\"g p u\"]\n",
       "anthill.toml:2: key 'labels' in [builder]: 'g p u' is not a label (letters, digits, '.', "
       "'_' and '-')"},
      {"[builder]\norchestrator = \"deploy:7070\"\n",
       "anthill.toml:2: key 'orchestrator' in [builder]: 'deploy:7070' must be the "
       "orchestrator's http:// or https:// URL"},
      {"[artifacts]\nstore = \"s3://B/x\"\n",
       "anthill.toml:2: key 'store' in [artifacts]: 's3://B/x' is not \"orchestrator\" or "
       "\"s3://bucket/prefix\" (a bucket name is 3-63 lowercase letters, digits, '.' and '-')"},
      {"[artifacts]\nbucket = \"x\"\n", "anthill.toml:2: unknown key 'bucket' in [artifacts]"},
      {"builder = 1\n", "anthill.toml:1: 'builder' must be a table ([builder])"},
      {"agent = \"web-1\"\n", "anthill.toml:1: 'agent' must be a table ([agent])"},
      {head + "listen = [\"tcp://127.0.0.1:${PORT}\"]\n",
       "anthill.toml:5: key 'listen' in [[project]] 'hello': 'tcp://127.0.0.1:${PORT}': ${KEY} is "
       "a fleet agent's --env value; this project runs here (no machines or labels)"},
      {head + "machines = [\"web-*\"]\nlisten = [\"tcp://${HOST}\"]\n",
       "anthill.toml:6: key 'listen' in [[project]] 'hello': 'tcp://${HOST}' is not host:port "
       "with a ${KEY} for the port (or part of it)"},
      {"[agent]\nservers = [\"https://deploy:7070\"]\n",
       "anthill.toml:2: key 'servers' in [agent]: 'https://deploy:7070' is not an "
       "orchestrator's http://host:port"},
      {"[agent]\nservers = \"http://deploy:7070\"\n",
       "anthill.toml:2: key 'servers' in [agent]: must be an array of strings, not a string"},
      {"[agent]\nmachine = \"web 1\"\n",
       "anthill.toml:2: key 'machine' in [agent]: 'web 1' may only hold letters, digits, '.', "
       "'_' and '-'"},
      {"[agent]\nenv = { 1X = \"a\" }\n",
       "anthill.toml:2: key 'env' in [agent]: '1X' is not a valid environment variable name"},
      {"[agent]\ntoken = \"web-1.abc\"\n", "anthill.toml:2: unknown key 'token' in [agent]"},
      {head + "build_labels = [\"\"]\n",
       "anthill.toml:5: key 'build_labels' in [[project]] 'hello': '' is not a label (letters, "
       "digits, '.', '_' and '-')"},
      {head + "rollout = { batch = 2 }\n",
       "anthill.toml:5: key 'rollout' in [[project]] 'hello': rollout needs machines or labels "
       "(the agents it rolls out to)"},
      {head + "machines = []\nrollout = { batch = 2 }\n",
       "anthill.toml:6: key 'rollout' in [[project]] 'hello': rollout needs machines or labels "
       "(the agents it rolls out to)"},
      {head + "machines = [\"web 1\"]\n",
       "anthill.toml:5: key 'machines' in [[project]] 'hello': 'web 1' is not a machine name or "
       "glob (letters, digits, '.', '_', '-', and *, ? or [...])"},
      {head + "machines = \"web-*\"\n",
       "anthill.toml:5: key 'machines' in [[project]] 'hello': must be an array of strings, not a "
       "string"},
      {head + "labels = [\"\"]\n",
       "anthill.toml:5: key 'labels' in [[project]] 'hello': '' is not a label (letters, digits, "
       "'.', '_' and '-')"},
      {head + "labels = [\"web\"]\nrollout = \"25%\"\n",
       "anthill.toml:6: key 'rollout' in [[project]] 'hello': must be a table like { batch = "
       "\"25%\" }, not a string"},
      {head + "labels = [\"web\"]\nrollout = { batch = \"0%\" }\n",
       "anthill.toml:6: key 'batch' in rollout of [[project]] 'hello': '0%' must be a count of "
       "machines (2 or \"2\") or a percentage from 1% to 100% (\"25%\")"},
      {head + "labels = [\"web\"]\nrollout = { batch = \"150%\" }\n",
       "anthill.toml:6: key 'batch' in rollout of [[project]] 'hello': '150%' must be a count of "
       "machines (2 or \"2\") or a percentage from 1% to 100% (\"25%\")"},
      {head + "labels = [\"web\"]\nrollout = { batch = \"a quarter\" }\n",
       "anthill.toml:6: key 'batch' in rollout of [[project]] 'hello': 'a quarter' must be a count "
       "of machines (2 or \"2\") or a percentage from 1% to 100% (\"25%\")"},
      {head + "labels = [\"web\"]\nrollout = { batch = 0 }\n",
       "anthill.toml:6: key 'batch' in rollout of [[project]] 'hello': 0 must be a count of "
       "machines (2 or \"2\") or a percentage from 1% to 100% (\"25%\")"},
      {head + "labels = [\"web\"]\nrollout = { batch = 0.5 }\n",
       "anthill.toml:6: key 'batch' in rollout of [[project]] 'hello': must be a count of "
       "machines (2 or \"2\") or a percentage from 1% to 100% (\"25%\"), not a number"},
      {head + "labels = [\"web\"]\nrollout = { on_failure = \"retry\" }\n",
       "anthill.toml:6: key 'on_failure' in rollout of [[project]] 'hello': 'retry' is not one of "
       "rollback, halt"},
      {head + "labels = [\"web\"]\nrollout = { pause = \"5\" }\n",
       "anthill.toml:6: key 'pause' in rollout of [[project]] 'hello': bad duration '5': a number "
       "needs a unit (ms, s, m or h), e.g. \"10s\""},
      {head + "labels = [\"web\"]\nrollout = { agent_timeout = \"0\" }\n",
       "anthill.toml:6: key 'agent_timeout' in rollout of [[project]] 'hello': must be above 0"},
      {head + "labels = [\"web\"]\nrollout = { batches = 2 }\n",
       "anthill.toml:6: unknown key 'batches' in rollout of [[project]] 'hello'"},
      {head + "labels = [\"web\"]\n[project.rollout]\nmin_healthy = \"soon\"\n",
       "anthill.toml:7: key 'min_healthy' in rollout of [[project]] 'hello': bad duration 'soon' "
       "(use e.g. \"500ms\", \"10s\", \"5m\", \"1h\")"},
      {head + "name = \"again\"\n",
       "anthill.toml:5:8: Error while parsing key-value pair: cannot redefine existing string "
       "'name'"},
  };
  for (const auto& c : cases) {
    auto r = Parse(c.text, "anthill.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error(), c.error) << c.text;
    EXPECT_EQ(r.code(), StatusCode::kInvalidArgument) << c.text;
  }
}

TEST(Config, ListenTakesEveryHostPortForm) {
  for (const char* listen : {"127.0.0.1:7070", "[::1]:7070", "localhost:1", "0.0.0.0:65535"}) {
    auto c = Parse(std::string("[server]\nlisten = \"") + listen + "\"\n", "anthill.toml");
    ASSERT_TRUE(c.ok()) << listen << ": " << c.error();
    EXPECT_EQ(c->server.listen, listen);
  }
}

TEST(Config, LoadNamesAMissingFile) {
  auto r = Load("/no/such/anthill.toml");
  EXPECT_EQ(r.code(), StatusCode::kNotFound);
  EXPECT_EQ(r.error(), "cannot read /no/such/anthill.toml: No such file or directory");
}

TEST(Config, ZeroProjectsIsAServerWithNothingToDeploy) {
  auto c = Parse("", "anthill.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->projects.empty());
}

}  // namespace
}  // namespace anthill::config
