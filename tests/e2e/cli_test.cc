// The command line's promises: every exit code is one of the README's "Exit
// codes" table, a wrong command line is refused before the daemon is asked,
// and `anthill logs PROJECT --build ID` shows that deployment's build log.
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

class CliTest : public AnthillTest {
 protected:
  // RunCli with `-c <config>` appended.
  std::pair<int, std::string> Run(std::vector<std::string> args) {
    args.push_back("-c");
    args.push_back(config_path_.string());
    return RunCli(args);
  }
};

TEST_F(CliTest, HelpExitsZero) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"help"}, {"--help"}, {"-h"}, {"help", "logs"}, {"logs", "--help"}}) {
    auto [code, out] = RunCli(args);
    EXPECT_EQ(code, 0) << args[0] << ": " << out;
    EXPECT_NE(out.find("Usage: anthill"), std::string::npos) << args[0] << ": " << out;
  }
  auto [code, out] = RunCli({"help"});
  EXPECT_NE(out.find("deployments"), std::string::npos) << out;  // the commands, not help's own
  auto [lcode, lout] = RunCli({"help", "logs"});
  EXPECT_NE(lout.find("--build [ID]"), std::string::npos) << lout;
}

// CLI11's own exit codes (105, 106, 109...) must not leak: a wrong command
// line is a usage error, exit code 2, whatever is wrong with it.
TEST_F(CliTest, UsageErrorsExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{}, "A subcommand is required"},
      {{"bogus"}, "no command 'bogus'; the commands: serve, check, status"},
      {{"help", "bogus"}, "no command 'bogus'"},
      {{"deploy"}, "project is required"},
      {{"status", "--bogus"}, "--bogus"},
      {{"deployments", "--limit", "0"}, "--limit"},
      {{"cancel", "x"}, "x"},
      {{"logs", "hello", "--build", "abc"}, "--build: 'abc' is not a deployment id"},
      {{"logs", "hello", "--build", "0"}, "--build: '0' is not a deployment id"},
  };
  for (const auto& c : cases) {
    auto [code, out] = RunCli(c.args);
    std::string shown = c.args.empty() ? "(nothing)" : c.args[0];
    EXPECT_EQ(code, 2) << shown << ": " << out;
    EXPECT_NE(out.find(c.says), std::string::npos) << shown << ": " << out;
  }
}

// Regression (issue 11): `--status bogus` went to the daemon, which refused
// it, and the CLI exited 1, "daemon unreachable".
TEST_F(CliTest, StatusFilterIsCheckedBeforeAskingTheDaemon) {
  WriteConfig();  // no daemon runs: asking it would exit 1
  auto [code, out] = Run({"deployments", "--status", "bogus"});
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("--status: 'bogus' is not a deployment status; use one of: queued, running, "
                     "succeeded, failed, rolled_back, cancelled, interrupted"),
            std::string::npos)
      << out;
}

TEST_F(CliTest, NoDaemonExitsOne) {
  WriteConfig();
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"status"},
                                             {"deployments", "--status", "failed"},
                                             {"queue"},
                                             {"logs", "hello"},
                                             {"logs", "hello", "--build", "1"},
                                             {"deploy", "hello"},
                                             {"cancel", "1"}}) {
    auto [code, out] = Run(args);
    EXPECT_EQ(code, 1) << args[0] << ": " << out;
  }
}

TEST_F(CliTest, ConfigErrorExitsTwo) {
  auto [code, out] = RunCli({"status", "-c", (dir_ / "nope.toml").string()});
  EXPECT_EQ(code, 2) << out;
}

// A database Anthill cannot use is a config error: `check` says so (it once
// said "ok" and only `serve` refused it), and `serve` refuses it before it
// makes or locks anything; the password is never repeated (and belongs in
// PGPASSWORD or ~/.pgpass, not in the config).
TEST_F(CliTest, ADatabaseAnthillCannotUseIsAConfigError) {
  ProjectOptions o;
  o.server_extra = "database = \"postgresql://deploy:s3cret@db.example/anthill\"";
  WriteConfig(o);
  for (const char* command : {"check", "serve"}) {
    auto [code, out] = RunCli({command, "-c", config_path_.string()});
    EXPECT_EQ(code, 2) << command << ": " << out;
    EXPECT_NE(out.find("[server] database: the \"postgresql://...\" URL holds a password"),
              std::string::npos)
        << command << ": " << out;
    EXPECT_EQ(out.find("s3cret"), std::string::npos) << command << ": " << out;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data")) << "serve made nothing";
}

// The pipeline's failure messages say "see `anthill logs hello --build 3`":
// that command shows deployment 3's log, not the latest one's.
TEST_F(CliTest, LogsBuildIdShowsThatDeploymentsLog) {
  const std::string first = Head();
  StartAnthill();
  json d1 = WaitFinished(first);
  ASSERT_FALSE(d1.is_null());
  const std::string second = CommitChange("second");
  json d2 = WaitFinished(second);
  ASSERT_FALSE(d2.is_null());
  const std::string id1 = std::to_string(d1["id"].get<int64_t>());
  const std::string id2 = std::to_string(d2["id"].get<int64_t>());
  ASSERT_NE(id1, id2);

  // The build log holds the git commands, the checkout naming its commit.
  auto [code, out] = Run({"logs", "hello", "--build", id1});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("$ git checkout --quiet --force --detach " + first), std::string::npos) << out;
  EXPECT_EQ(out.find(second), std::string::npos) << out;

  // --build alone: the latest deployment's; the id may come first, too.
  auto [lcode, lout] = Run({"logs", "hello", "--build"});
  EXPECT_EQ(lcode, 0) << lout;
  EXPECT_NE(lout.find("--detach " + second), std::string::npos) << lout;
  auto [bcode, bout] = Run({"logs", "--build", id2, "hello"});
  EXPECT_EQ(bcode, 0) << bout;
  EXPECT_NE(bout.find("--detach " + second), std::string::npos) << bout;

  // Refused, exit code 3: an id nobody has, and another project's id.
  auto [ncode, nout] = Run({"logs", "hello", "--build", "999"});
  EXPECT_EQ(ncode, 3) << nout;
  EXPECT_NE(nout.find("no deployment 999"), std::string::npos) << nout;
  auto [pcode, pout] = Run({"logs", "other", "--build", id1});
  EXPECT_EQ(pcode, 3) << pout;
  EXPECT_NE(pout.find("deployment " + id1 + " is hello's, not other's"), std::string::npos) << pout;

  // A valid status filter reaches the daemon.
  auto [scode, sout] = Run({"deployments", "--status", "succeeded"});
  EXPECT_EQ(scode, 0) << sout;
  EXPECT_NE(sout.find("main-" + second.substr(0, 8)), std::string::npos) << sout;
}

TEST_F(CliTest, RefusedByTheDaemonExitsThree) {
  StartAnthill();
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"deploy", "nope"}, {"logs", "nope"}, {"logs", "nope", "--build"}, {"cancel", "999"}}) {
    auto [code, out] = Run(args);
    EXPECT_EQ(code, 3) << args[0] << ": " << out;
  }
}

}  // namespace
}  // namespace anthill::e2e
