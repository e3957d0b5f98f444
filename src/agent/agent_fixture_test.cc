#include "agent/agent_fixture_test.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include "artifact/pack.h"
#include "base/strings.h"
#include "http/artifacts.h"
#include "http/client.h"

namespace anthill::agent {

namespace asio = boost::asio;
namespace fs = std::filesystem;

// --- FakeOrchestrator -------------------------------------------------------------

FakeOrchestrator::FakeOrchestrator(const fs::path& dir, std::string machine, std::string token)
    : machine_(std::move(machine)), token_(std::move(token)) {
  auto store = artifact::LocalArtifactStore::Open(dir / "artifacts");
  EXPECT_TRUE(store.ok()) << store.error();
  if (store.ok()) artifacts_ = std::move(store.value());
  changed_ = std::make_unique<Event>(io_.get_executor());
  server_ =
      std::make_unique<http::Server>(io_, [this](http::Request r) { return Handle(std::move(r)); });
  Status listening = server_->Listen("127.0.0.1:0");
  EXPECT_TRUE(listening.ok()) << listening.message();
  loop_ = std::thread([this] { io_.run(); });
}

FakeOrchestrator::~FakeOrchestrator() {
  // Every handler ends (a long poll answers at once) and the server closes
  // its connections; the loop then runs out of work. Nothing is left
  // suspended on the server when it goes.
  asio::post(io_, [this] {
    closing_ = true;
    server_->Stop();
    changed_->Set();
  });
  loop_.join();
}

void FakeOrchestrator::SetDesired(deploy::DesiredState state) {
  {
    std::lock_guard lock(mu_);
    desired_ = std::move(state);
  }
  asio::post(io_, [this] { changed_->Set(); });
}

void FakeOrchestrator::AnswerStale(std::optional<deploy::DesiredState> state) {
  {
    std::lock_guard lock(mu_);
    stale_ = std::move(state);
  }
  asio::post(io_, [this] { changed_->Set(); });
}

void FakeOrchestrator::AnswerReportsWith(int status) {
  std::lock_guard lock(mu_);
  report_status_ = status;
}

artifact::ArtifactRef FakeOrchestrator::Publish(const fs::path& dir, const std::string& key) {
  const fs::path packed = artifacts_->TempDir() / ("publish-" + std::to_string(rand()));
  auto made = artifact::Pack(dir, packed);
  EXPECT_TRUE(made.ok()) << made.error();
  auto ref = artifacts_->Adopt(key, packed, made.ok() ? std::optional(made->sha256) : std::nullopt);
  EXPECT_TRUE(ref.ok()) << ref.error();
  return ref.ok() ? *ref : artifact::ArtifactRef{};
}

asio::awaitable<http::Response> FakeOrchestrator::Handle(http::Request r) {
  if (r.Header("authorization") != "Bearer " + token_) {
    {
      std::lock_guard lock(mu_);
      ++unauthorized_;
    }
    co_return http::Response{401, "application/json", R"({"error":"bad token"})"};
  }
  if (StartsWith(r.path, http::kStreamedPutPrefix)) {
    asio::awaitable<http::Response> serving = http::ServeArtifact(std::move(r), artifacts_.get());
    co_return co_await std::move(serving);
  }
  const std::string base = "/api/v1/agents/" + machine_;
  if (r.method == "GET" && r.path == base + "/desired") {
    asio::awaitable<http::Response> answering = Desired(std::move(r));
    co_return co_await std::move(answering);
  }
  if (r.method == "POST" && r.path == base + "/reports") co_return Report(r);
  co_return http::Response{404, "application/json", R"({"error":"not found"})"};
}

asio::awaitable<http::Response> FakeOrchestrator::Desired(http::Request r) {
  const int64_t after = std::atoll(r.query["generation"].c_str());
  auto wait = ParseDuration(r.query["wait"]);
  const auto deadline = std::chrono::steady_clock::now() + (wait.ok() ? *wait : Duration(30000));
  {
    std::lock_guard lock(mu_);
    ++polls_;
    labels_ = r.query["labels"];
  }
  for (;;) {
    // Reset before looking: a change made after the look wakes the wait.
    changed_->Reset();
    std::string body;
    bool answer = false;
    {
      std::lock_guard lock(mu_);
      if (stale_) {
        ++stale_answers_;
        body = deploy::ToJson(*stale_);
        answer = true;
      } else {
        body = deploy::ToJson(desired_);
        answer = desired_.generation > after;
      }
    }
    const auto left =
        std::chrono::duration_cast<Duration>(deadline - std::chrono::steady_clock::now());
    if (answer || closing_ || left.count() <= 0)
      co_return http::Response{200, "application/json", body};
    co_await changed_->Wait(left);
  }
}

http::Response FakeOrchestrator::Report(const http::Request& r) {
  std::lock_guard lock(mu_);
  if (report_status_ != 200) {
    ++refused_reports_;
    last_refused_report_ = r.body;
    return http::Response{report_status_, "application/json", R"({"error":"not now"})"};
  }
  auto report = deploy::ParseAgentReport(r.body);
  if (!report.ok()) {
    ADD_FAILURE() << "the agent sent a report the API refuses: " << report.error();
    return http::Response{400, "application/json", R"({"error":"bad report"})"};
  }
  const bool applied = applied_ids_.insert(report->id).second;
  if (applied) {
    reports_.push_back(*report);
  } else {
    ++duplicate_reports_;
  }
  return http::Response{200, "application/json",
                        applied ? R"({"applied":true})" : R"({"applied":false})"};
}

std::vector<store::AgentReport> FakeOrchestrator::reports() const {
  std::lock_guard lock(mu_);
  return reports_;
}

std::vector<store::AgentStep> FakeOrchestrator::steps() const {
  std::lock_guard lock(mu_);
  std::vector<store::AgentStep> out;
  std::map<std::string, size_t> at;
  for (const auto& report : reports_) {
    for (const auto& step : report.steps) {
      auto [it, added] = at.emplace(step.key, out.size());
      if (added) {
        out.push_back(step);
      } else {
        out[it->second] = step;
      }
    }
  }
  return out;
}

std::optional<deploy::ProjectReport> FakeOrchestrator::state(const std::string& project) const {
  std::lock_guard lock(mu_);
  for (auto r = reports_.rbegin(); r != reports_.rend(); ++r) {
    for (auto s = r->states.rbegin(); s != r->states.rend(); ++s) {
      if (s->first != project) continue;
      auto parsed = deploy::ParseProjectReport(s->second);
      if (parsed.ok()) return *parsed;
    }
  }
  return std::nullopt;
}

int FakeOrchestrator::polls() const {
  std::lock_guard lock(mu_);
  return polls_;
}
int FakeOrchestrator::stale_answers() const {
  std::lock_guard lock(mu_);
  return stale_answers_;
}
int FakeOrchestrator::refused_reports() const {
  std::lock_guard lock(mu_);
  return refused_reports_;
}
int FakeOrchestrator::duplicate_reports() const {
  std::lock_guard lock(mu_);
  return duplicate_reports_;
}
int FakeOrchestrator::unauthorized() const {
  std::lock_guard lock(mu_);
  return unauthorized_;
}
std::string FakeOrchestrator::last_refused_report() const {
  std::lock_guard lock(mu_);
  return last_refused_report_;
}
std::string FakeOrchestrator::labels_asked() const {
  std::lock_guard lock(mu_);
  return labels_;
}

// --- AgentLife ----------------------------------------------------------------------

AgentLife::AgentLife(AgentSettings settings) : agent_(io_.get_executor(), std::move(settings)) {}

AgentLife::~AgentLife() {
  if (loop_.joinable()) Kill();
}

Status AgentLife::Start() {
  Status s = agent_.Open();
  if (!s.ok()) return s;
  agent_.Start();
  loop_ = std::thread([this] { io_.run(); });
  return Status::Ok();
}

void AgentLife::Stop() {
  if (!loop_.joinable()) return;
  OnLoop([this] {
    agent_.Shutdown();
    return true;
  });
  EXPECT_TRUE(testing::WaitUntil([this] { return OnLoop([this] { return agent_.done(); }); }))
      << "the agent did not stop";
  Kill();
}

void AgentLife::Kill() {
  if (!loop_.joinable()) return;
  io_.stop();
  loop_.join();
}

int64_t AgentLife::generation() {
  return OnLoop([this] { return agent_.generation(); });
}

// --- AgentTest ------------------------------------------------------------------------

void AgentTest::SetUp() {
  orchestrator_ = std::make_unique<FakeOrchestrator>(dir_ / "orchestrator", "m1", "s3cret");
  port_ = testing::FreePort();
}

void AgentTest::TearDown() {
  if (agent_) agent_->Stop();
  agent_.reset();
  testing::KillProcessesUnder(dir_.path());
  orchestrator_.reset();
}

AgentSettings AgentTest::Settings() const {
  AgentSettings s;
  s.servers = {orchestrator_->url()};
  s.machine = "m1";
  s.labels = {"web", "eu"};
  s.data_dir = dir_ / "agent";
  s.env = {{"PORT", std::to_string(port_)}};
  s.token = "s3cret";
  s.poll_wait = Duration(5000);
  s.report_every = Duration(300);
  return s;
}

void AgentTest::StartAgent(const AgentSettings& settings) {
  agent_ = std::make_unique<AgentLife>(settings);
  Status s = agent_->Start();
  ASSERT_TRUE(s.ok()) << s.message();
}

deploy::AgentRelease AgentTest::Release(const std::string& version, bool serves,
                                        const std::string& before_serving) {
  const int n = ++releases_made_;
  const fs::path src = dir_ / "src" / version;
  std::string script = "echo \"$GREETING on $ANTHILL_MACHINE running $ANTHILL_VERSION\"\n";
  script += before_serving + "\n";
  script += serves ? "exec /usr/bin/python3 -m http.server \"$PORT\" --bind 127.0.0.1\n"
                   : "exec sleep 300\n";
  testing::WriteFile(src / "run.sh", script);
  testing::WriteFile(src / "version.txt", version);
  deploy::AgentRelease r;
  r.commit = std::string(40, static_cast<char>('a' + n));
  r.release = "2026010" + std::to_string(n) + "T000000Z-" + r.commit.substr(0, 12);
  r.version = version;
  r.ref = "refs/heads/main";
  const artifact::ArtifactRef ref = orchestrator_->Publish(src, "hello/" + version + ".tar.zst");
  r.artifact_key = ref.key;
  r.sha256 = ref.sha256;
  r.size = ref.size;
  return r;
}

deploy::DesiredProject AgentTest::Hello(int64_t deployment_id,
                                        const deploy::AgentRelease& run) const {
  deploy::DesiredProject p;
  p.project = "hello";
  p.deployment_id = deployment_id;
  p.fetch = {run};
  p.run = run;
  p.program.run = "sh run.sh";
  p.program.stop_timeout = Duration(3000);
  p.program.health.kind = config::HealthCheck::Kind::kHttp;
  p.program.health.target = "http://127.0.0.1:${PORT}/version.txt";
  p.program.health.timeout = Duration(20000);
  p.program.health.interval = Duration(100);
  p.program.health.watch = Duration(0);
  p.program.env = {"GREETING=hello from ${PORT}"};
  return p;
}

deploy::DesiredState AgentTest::State(int64_t generation,
                                      std::vector<deploy::DesiredProject> p) const {
  deploy::DesiredState s;
  s.generation = generation;
  s.projects = std::move(p);
  return s;
}

std::string AgentTest::Serving() const {
  auto got = http::Fetch("GET", "127.0.0.1:" + std::to_string(port_), "/version.txt");
  if (!got.ok() || got->status != 200) return "";
  return got->body;
}

bool AgentTest::WaitForState(const std::function<bool(const deploy::ProjectReport&)>& pred,
                             std::chrono::milliseconds timeout) {
  return testing::WaitUntil(
      [&] {
        auto s = orchestrator_->state("hello");
        return s && pred(*s);
      },
      timeout);
}

std::vector<std::string> AgentTest::StepsOf(int64_t id) const {
  std::vector<std::string> out;
  for (const store::AgentStep& s : orchestrator_->steps()) {
    if (s.deployment_id != id) continue;
    out.push_back(std::string(store::ToString(s.name)) + ":" +
                  std::string(store::ToString(s.status)));
  }
  return out;
}

int AgentTest::ProgramsRunning() const {
  const std::string releases = (dir_ / "agent" / "projects" / "hello" / "releases").string();
  int n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::error_code link_ec;
    const std::string cwd = fs::read_symlink(entry.path() / "cwd", link_ec).string();
    if (!link_ec && cwd.rfind(releases + "/", 0) == 0) ++n;  // a zombie has no cwd
  }
  return n;
}

}  // namespace anthill::agent
