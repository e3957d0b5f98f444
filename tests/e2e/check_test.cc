// `anthill check` refuses a wrong config before anything runs, naming the
// file, the line and the key.
#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

TEST_F(AnthillTest, CheckAcceptsAGoodConfig) {
  WriteConfig();
  auto [code, out] = RunCli({"check", "-c", config_path_.string()});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("ok, 1 project(s): hello"), std::string::npos) << out;
}

TEST_F(AnthillTest, CheckAndServeRefuseAnUnknownKeyNamingFileLineAndKey) {
  WriteConfig({.extra = "bogus = 1"});
  for (const char* cmd : {"check", "serve"}) {
    auto [code, out] = RunCli({cmd, "-c", config_path_.string()});
    EXPECT_EQ(code, 2) << cmd << ": " << out;
    EXPECT_NE(out.find("anthill.toml:16: unknown key 'bogus'"), std::string::npos)
        << cmd << ": " << out;
  }
  // Nothing ran: no data dir was made.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data"));
}

TEST_F(AnthillTest, CheckNamesAMissingConfigFile) {
  auto [code, out] = RunCli({"check", "-c", (dir_ / "nope.toml").string()});
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("cannot read " + (dir_ / "nope.toml").string()), std::string::npos) << out;
}

}  // namespace
}  // namespace anthill::e2e
