#include "tests/e2e/harness.h"

#include <signal.h>
#include <sys/wait.h>

#include "base/strings.h"
#include "http/client.h"

namespace anthill::e2e {

namespace fs = std::filesystem;

namespace {
const char* kGitIdentity = "git -c user.name=Tester -c user.email=tester@example.invalid";
}

void AnthillTest::SetUp() {
  api_port_ = testing::FreePort();
  app_port_ = testing::FreePort();
  fs::create_directories(origin());
  fs::path src = fs::path(ANTHILL_SOURCE_DIR) / "examples" / "hello";
  fs::copy_file(src / "hello.c", origin() / "hello.c");
  fs::copy_file(src / "Makefile", origin() / "Makefile");
  testing::Sh(origin(), "git init -q -b main .");
  Commit("first");
}

void AnthillTest::TearDown() {
  if (anthill_) StopAnthill();
  testing::KillProcessesUnder(dir_.path());
  if (HasFailure()) {
    std::cerr << "---- anthill.log ----\n" << testing::ReadFile(dir_ / "anthill.log");
    std::string app = testing::ReadFile(dir_ / "data/logs/app/hello.log");
    if (app.size() > 4000) app = app.substr(app.size() - 4000);
    std::cerr << "---- logs/app/hello.log (tail) ----\n" << app;
  }
}

std::string AnthillTest::Head() const {
  return std::string(Trim(testing::Sh(origin(), "git rev-parse HEAD")));
}

std::string AnthillTest::Commit(const std::string& message) {
  testing::Sh(origin(), "git add -A && " + std::string(kGitIdentity) +
                            " commit -q --allow-empty -m '" + message + "'");
  return Head();
}

std::string AnthillTest::CommitChange(const std::string& message) {
  testing::WriteFile(origin() / "CHANGES", message + "\n");
  return Commit(message);
}

std::string AnthillTest::CommitMode(const std::string& mode) {
  testing::WriteFile(origin() / "mode", mode + "\n");
  return Commit("mode " + mode);
}

std::string AnthillTest::WriteConfig(const ProjectOptions& opts) {
  std::string port = std::to_string(app_port_);
  std::string health = opts.health.empty()
                           ? "{ http = \"http://127.0.0.1:" + port +
                                 "/healthz\", timeout = \"10s\", interval = \"50ms\" }"
                           : opts.health;
  std::string text = "[server]\nlisten = \"127.0.0.1:" + std::to_string(api_port_) +
                     "\"\ndata_dir = \"data\"\nmachine = \"test-machine\"\n" + opts.server_extra +
                     "\n"
                     "[[project]]\nname = \"hello\"\nrepo = \"" +
                     origin().string() + "\"\n" + opts.rule + "\npoll = \"" + opts.poll +
                     "\"\nbuild = \"" + opts.build +
                     "\"\ntest = \"test -x hello\"\n"
                     "run = \"" +
                     (opts.run.empty() ? "./hello --port " + port : opts.run) +
                     "\"\nhealth = " + health + "\nstop_timeout = \"" + opts.stop_timeout + "\"\n" +
                     opts.extra + "\n";
  config_path_ = dir_ / "anthill.toml";
  testing::WriteFile(config_path_, text);
  return text;
}

void AnthillTest::StartAnthill() {
  if (config_path_.empty()) WriteConfig();
  os::SpawnOptions o;
  o.argv = {ANTHILL_BINARY, "serve", "-c", config_path_.string()};
  o.cwd = dir_.path();
  o.env = os::CurrentEnvironment();
  o.output = dir_ / "anthill.log";
  auto child = os::Spawn(o);
  ASSERT_TRUE(child.ok()) << child.error();
  anthill_ = std::make_unique<os::Child>(std::move(child.value()));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return !ApiText("/healthz").empty(); }, std::chrono::seconds(20)))
      << "anthill did not answer on its port";
}

void AnthillTest::KillAnthill() {
  kill(anthill_->pid(), SIGKILL);
  int status = 0;
  waitpid(anthill_->pid(), &status, 0);
  anthill_.reset();
}

void AnthillTest::StopAnthill() {
  kill(anthill_->pid(), SIGTERM);
  int status = 0;
  waitpid(anthill_->pid(), &status, 0);
  anthill_.reset();
  // A clean stop exits 0: a sanitizer report at exit (a leak) or a crash
  // while shutting down must fail the test, not pass unseen.
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "anthill did not stop cleanly: status " << status;
}

std::pair<int, std::string> AnthillTest::RunCli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ANTHILL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = os::RunSync(argv, dir_.path());
  if (!out.ok()) return {-1, out.error()};
  return {out->status.signaled ? -1 : out->status.code, out->output};
}

std::pair<int, std::string> AnthillTest::Post(
    const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  auto r = http::Fetch("POST", "127.0.0.1:" + std::to_string(api_port_), target, body, "", headers);
  if (!r.ok()) return {-1, r.error()};
  return {r->status, r->body};
}

json AnthillTest::WaitDeploymentEnded(int64_t id, std::chrono::seconds timeout) {
  json found;
  bool ok = testing::WaitUntil(
      [&] {
        found = Api("/api/v1/deployments/" + std::to_string(id));
        return !found.is_null() && !found["finished_at"].is_null();
      },
      timeout);
  EXPECT_TRUE(ok) << "deployment " << id << " did not end: " << found.dump(1);
  return found;
}

bool AnthillTest::WaitStep(int64_t id, const std::string& name, const std::string& status,
                           std::chrono::seconds timeout) {
  return testing::WaitUntil(
      [&] {
        json d = Api("/api/v1/deployments/" + std::to_string(id));
        if (d.is_null()) return false;
        for (const auto& s : d["steps"]) {
          if (s["name"] == name && s["status"] == status) return true;
        }
        return false;
      },
      timeout);
}

std::string AnthillTest::ApiText(const std::string& target, int* status) {
  auto r = http::Fetch("GET", "127.0.0.1:" + std::to_string(api_port_), target);
  if (!r.ok()) return "";
  if (status) *status = r->status;
  return r->body;
}

json AnthillTest::Api(const std::string& target) {
  std::string body = ApiText(target);
  if (body.empty()) return nullptr;
  json j = json::parse(body, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

json AnthillTest::Deployments(const std::string& query) {
  json j = Api("/api/v1/deployments?limit=100" + query);
  if (j.is_null() || !j.contains("deployments")) return json::array();
  return j["deployments"];
}

json AnthillTest::WaitFinished(const std::string& commit, std::chrono::seconds timeout) {
  json found;
  bool ok = testing::WaitUntil(
      [&] {
        for (const auto& d : Deployments()) {
          if (d["to_commit"] == commit && !d["finished_at"].is_null()) {
            found = d;
            return true;
          }
        }
        return false;
      },
      timeout);
  EXPECT_TRUE(ok) << "no finished deployment of " << commit << "; have: " << Deployments().dump(1);
  return found;
}

json AnthillTest::Project(const std::string& name) {
  json j = Api("/api/v1/projects");
  if (j.is_null()) return nullptr;
  for (const auto& p : j["projects"]) {
    if (p["name"] == name) return p;
  }
  return nullptr;
}

std::string AnthillTest::AppGet(const std::string& path) {
  auto r = http::Fetch("GET", "127.0.0.1:" + std::to_string(app_port_), path);
  if (!r.ok() || r->status != 200) return "";
  return r->body;
}

bool AnthillTest::ProcessAlive(int64_t pid) {
  // A zombie is dead for our purpose: read the state from /proc.
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

}  // namespace anthill::e2e
