#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <iostream>
#include <random>
#include <set>

#include "agent/agent_db.h"
#include "agent/agent_steps.h"
#include "agent/desired_poller.h"
#include "agent/download.h"
#include "agent/environment.h"
#include "agent/project_agent.h"
#include "agent/reporter.h"
#include "agent/stopping.h"
#include "http/json_client.h"
#include "os/lock.h"
#include "os/process.h"
#include "os/signals.h"
#include "store/store.h"

namespace anthill::agent {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// How long a stop waits for a swap under way to end before leaving it to
// the next life (which stops a candidate that never passed its check).
constexpr Duration kShutdownGrace{15000};
// How often writes machine.db could not take at once are tried again.
constexpr Duration kFlushEvery{250};

// One life of the agent: the middle part of its steps' keys.
std::string NewLife() {
  std::random_device random;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 12; ++i) out += kHex[random() % 16];
  return out;
}

}  // namespace

Status CheckSettings(const AgentSettings& settings, bool need_token) {
  if (settings.servers.empty()) {
    return Status::InvalidArgument(
        "no orchestrator to ask: give --server http://host:port (or [agent] servers)");
  }
  for (const std::string& server : settings.servers) {
    auto url = http::ParseBaseUrl(server);
    if (!url.ok()) return url.status();
  }
  if (!SafeName(settings.machine)) {
    return Status::InvalidArgument("bad machine name '" + settings.machine +
                                   "': want letters, digits, '.', '_' or '-'");
  }
  if (settings.data_dir.empty())
    return Status::InvalidArgument("no data dir: give --data-dir (or [agent] data_dir)");
  for (const auto& [key, value] : settings.env) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return Status::InvalidArgument("bad --env '" + key + "=" + value + "': want KEY=VALUE");
    }
  }
  if (settings.poll_wait.count() <= 0 || settings.report_every.count() <= 0) {
    return Status::InvalidArgument("the poll wait and the report interval must be above 0");
  }
  if (need_token && settings.token.empty()) {
    return Status::InvalidArgument(
        "no agent token: set ANTHILL_AGENT_TOKEN (or [agent] token_file) to the token `anthill "
        "agents add " +
        settings.machine + "` printed");
  }
  return Status::Ok();
}

Agent::Agent(asio::any_io_executor executor, AgentSettings settings)
    : executor_(std::move(executor)), settings_(std::move(settings)) {}

Agent::~Agent() = default;

Status Agent::Open() {
  if (Status s = CheckSettings(settings_, false); !s.ok()) return s;
  // Programs start in their release dir, and their log paths and sockets
  // are made from this: a relative --data-dir would be read from there.
  settings_.data_dir = fs::absolute(settings_.data_dir).lexically_normal();
  const fs::path& dir = settings_.data_dir;
  for (const char* sub : {"", "logs/app", "projects", "run", "tmp"}) {
    std::error_code ec;
    fs::create_directories(dir / sub, ec);
    if (ec) return Status::Error("cannot create " + (dir / sub).string() + ": " + ec.message());
  }
  auto lock = os::FileLock::Acquire(dir / "agent.lock");
  if (!lock.ok()) return lock.status().Prefixed("data dir " + dir.string());
  lock_ = std::make_unique<os::FileLock>(std::move(lock.value()));
  // Downloads a killed life left half done: nobody else writes here.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir / "tmp", ec)) fs::remove_all(entry, ec);
  auto machine = store::OpenSqlite(dir / "machine.db", settings_.machine);
  if (!machine.ok()) return machine.status();
  machine_store_ = std::move(machine.value());
  auto db = AgentDb::Open(dir / "agent.db");
  if (!db.ok()) return db.status();
  db_ = std::move(db.value());

  stopping_ = std::make_unique<Stopping>(executor_);
  reporter_ = std::make_unique<Reporter>(executor_, settings_.servers, settings_.machine,
                                         settings_.token, db_.get(), stopping_.get());
  steps_ = std::make_unique<AgentSteps>(settings_.machine, NewLife(), db_.get(),
                                        [this] { reporter_->Wake(); });
  poller_ = std::make_unique<DesiredPoller>(
      settings_.servers, settings_.machine, settings_.token, settings_.labels, settings_.poll_wait,
      db_->generation(), stopping_.get(),
      [this](deploy::DesiredState state, const std::string& json) {
        auto kept = db_->SaveDesired(state.generation, json);
        if (!kept.ok()) spdlog::error("{} (acting on it all the same)", kept.error());
        Apply(state);
      });
  ctx_ = std::make_unique<AgentContext>();
  ctx_->executor = executor_;
  ctx_->data_dir = dir;
  ctx_->machine = settings_.machine;
  ctx_->env = settings_.env;
  ctx_->base_env = os::CurrentEnvironment();
  ctx_->store = machine_store_.get();
  ctx_->db = db_.get();
  ctx_->steps = steps_.get();
  ctx_->artifacts = [this](const deploy::AgentArtifactStore& where) {
    return OpenArtifactStore(where, poller_->current(), settings_.token);
  };
  ctx_->queued = [this] { reporter_->Wake(); };
  return Status::Ok();
}

int64_t Agent::generation() const { return poller_ ? poller_->generation() : 0; }

void Agent::Spawn(asio::awaitable<void> loop) {
  ++loops_;
  asio::co_spawn(
      executor_,
      [this, loop = std::move(loop)]() mutable -> asio::awaitable<void> {
        co_await std::move(loop);
        --loops_;
      },
      asio::detached);
}

void Agent::Start() {
  started_ = true;
  Spawn(Main());
}

asio::awaitable<void> Agent::Main() {
  steps_->InterruptLeftovers();
  // What a previous life ran: re-adopted before anything new is done.
  std::vector<AgentDb::ProjectRow> rows;
  if (auto kept = db_->Projects(); kept.ok()) {
    rows = std::move(kept.value());
  } else {
    spdlog::error("cannot read the projects a previous life kept: {}", kept.error());
  }
  for (const AgentDb::ProjectRow& row : rows) {
    if (shutting_down_) co_return;
    if (!SafeName(row.project)) continue;
    ProjectAgent& p = ProjectOf(row.project);
    asio::awaitable<void> recovering = p.Recover(row);
    co_await std::move(recovering);
  }
  if (shutting_down_) co_return;
  recovered_ = true;
  for (auto& [name, p] : projects_) Spawn(p->Run());
  // The desired state kept on disk is worked on before any orchestrator
  // answers: a life killed mid-rollout goes on with it at once.
  if (!db_->desired().empty()) {
    auto kept = deploy::ParseDesiredState(db_->desired());
    if (kept.ok()) {
      Apply(*kept);
    } else {
      spdlog::error("cannot read the desired state kept: {}", kept.error());
    }
  }
  Spawn(reporter_->Run());
  Spawn(poller_->Run());
  Spawn(PeriodicLoop());
  spdlog::info("agent {} started (generation {}, {} project(s), orchestrators {})",
               settings_.machine, db_->generation(), projects_.size(), settings_.servers.front());
}

ProjectAgent& Agent::ProjectOf(const std::string& name) {
  auto it = projects_.find(name);
  if (it != projects_.end()) return *it->second;
  auto& p = projects_[name];
  p = std::make_unique<ProjectAgent>(ctx_.get(), name);
  if (recovered_ && !shutting_down_) Spawn(p->Run());
  return *p;
}

void Agent::Apply(const deploy::DesiredState& state) {
  std::set<std::string> named;
  for (const deploy::DesiredProject& part : state.projects) {
    if (!SafeName(part.project)) {
      spdlog::error("desired state generation {}: '{}' is not a project name: ignored",
                    state.generation, part.project);
      continue;
    }
    named.insert(part.project);
    ProjectOf(part.project).Want(part, state.generation, state.artifacts);
  }
  for (auto& [name, p] : projects_) {
    if (!named.count(name)) p->Unwanted();
  }
}

asio::awaitable<void> Agent::PeriodicLoop() {
  // A project's state goes out when it changes and, when nothing changed
  // for report_every (give or take a fifth, drawn anew each time), again:
  // agents that reported together (a whole fleet in one rollout's first
  // phase) do not all report again in the same instant, period after period.
  std::map<std::string, Duration> period;
  while (!stopping_->stopped()) {
    if (co_await stopping_->Sleep(kFlushEvery)) break;
    // Writes machine.db could not take at once (store/write_behind.h).
    if (machine_store_->pending_writes() > 0) (void)machine_store_->FlushPendingWrites();
    const auto now = std::chrono::steady_clock::now();
    for (auto& [name, p] : projects_) {
      if (!p->wanted()) continue;
      auto [it, fresh] = period.try_emplace(name);
      if (fresh) it->second = Jittered(settings_.report_every, 0.2);
      if (now - p->queued_at() < it->second) continue;
      it->second = Jittered(settings_.report_every, 0.2);
      p->QueueReport();
    }
  }
}

void Agent::Shutdown() {
  if (shutting_down_ || !stopping_) return;
  shutting_down_ = true;
  stopping_->Stop();
  reporter_->Wake();
  for (auto& [name, p] : projects_) p->Shutdown();
}

bool Agent::done() const {
  if (!shutting_down_ || loops_ > 0) return false;
  for (const auto& [name, p] : projects_) {
    if (!p->done()) return false;
  }
  return true;
}

int RunAgent(const AgentSettings& settings) {
  if (Status s = CheckSettings(settings, true); !s.ok()) {
    std::cerr << "anthill agent: " << s.message() << "\n";
    return 2;
  }
  asio::io_context io;
  Agent agent(io.get_executor(), settings);
  if (Status s = agent.Open(); !s.ok()) {
    std::cerr << "anthill agent: " << s.message() << "\n";
    return 1;
  }
  spdlog::info("anthill agent {} for machine {} (data in {})", ANTHILL_VERSION, settings.machine,
               settings.data_dir.string());
  agent.Start();
  bool stopping = false;
  os::HandleTerminationSignals(io, [&](int sig) {
    if (stopping) return;
    stopping = true;
    spdlog::info("{}: stopping (programs keep running)", os::SignalName(sig));
    agent.Shutdown();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
          while (!agent.done() && std::chrono::steady_clock::now() < deadline) {
            co_await SleepFor(Duration(20));
          }
          if (!agent.done()) spdlog::warn("stopping with a swap under way: the next life ends it");
          io.stop();
        },
        asio::detached);
  });
  io.run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace anthill::agent
