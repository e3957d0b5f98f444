#include "deploy/project_runner.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "build/environment.h"
#include "os/process.h"
#include "supervise/health.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

ProjectRunner::ProjectRunner(Context ctx, config::Project project)
    : ctx_(std::move(ctx)),
      project_(std::move(project)),
      git_(ctx_.data_dir / "tmp", project_.build_timeout),
      releases_(ctx_.data_dir / "projects" / project_.name),
      rng_(std::random_device{}()),
      stopper_(std::make_shared<os::CommandStopper>()),
      wake_(std::make_unique<Event>(ctx_.executor)) {}

ProjectRunner::~ProjectRunner() = default;

fs::path ProjectRunner::ProjectDir() const { return ctx_.data_dir / "projects" / project_.name; }

fs::path ProjectRunner::BuildLog(int64_t id) const {
  return ctx_.data_dir / "logs" / "build" / (std::to_string(id) + ".log");
}

fs::path ProjectRunner::AppLog() const {
  return ctx_.data_dir / "logs" / "app" / (project_.name + ".log");
}

std::vector<std::string> ProjectRunner::Environment(const Candidate& c,
                                                    const std::string& release_dir) const {
  build::Identity id{project_.name, c.commit, c.version, c.ref, ctx_.machine, release_dir};
  return build::ProjectEnvironment(os::CurrentEnvironment(), project_, id);
}

void ProjectRunner::Start() {
  asio::co_spawn(ctx_.executor, [this]() -> asio::awaitable<void> { co_await Loop(); },
                 asio::detached);
}

void ProjectRunner::Shutdown() {
  shutting_down_ = true;
  stopper_->Stop();
  wake_->Set();
}

ProjectState ProjectRunner::State() const {
  ProjectState s;
  s.name = project_.name;
  s.repo = project_.repo;
  s.branch = project_.tags.empty() ? project_.branch : "";
  s.tags = project_.tags;
  bool running = program_ && !program_->exited();
  s.state = state_ == "deploying" || state_ == "starting" ? state_ : running ? "running" : "stopped";
  s.health = running ? (healthy_ ? "healthy" : "unknown") : "unknown";
  if (running) {
    s.version = version_;
    s.commit = commit_;
    s.release = release_;
    s.pid = program_->pid();
    s.started_at = started_at_;
  }
  s.last_deployment_id = last_deployment_id_;
  s.last_deployment_status = last_deployment_status_;
  s.last_error = last_error_;
  return s;
}

Duration ProjectRunner::NextPollDelay() {
  // Jitter (+-10%) keeps many projects, or many machines, from polling one
  // git server in lockstep. A failing remote is asked less and less often.
  double base = static_cast<double>(project_.poll.count());
  int doublings = std::min(poll_failures_, 8);
  base = std::min(base * (1 << doublings), std::max(base, 300000.0));
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  return Duration(static_cast<int64_t>(base * jitter(rng_)));
}

asio::awaitable<void> ProjectRunner::Loop() {
  co_await Recover();
  state_ = "idle";
  while (!shutting_down_) {
    auto polled = co_await Poll();
    if (!polled.ok()) {
      if (poll_failures_ == 0 || last_error_ != polled.error()) {
        spdlog::warn("project {}: poll failed: {}", project_.name, polled.error());
      }
      ++poll_failures_;
      last_error_ = "poll: " + polled.error();
    } else {
      if (poll_failures_ > 0) spdlog::info("project {}: poll works again", project_.name);
      poll_failures_ = 0;
      const auto& c = *polled;
      if (c && c->commit != commit_ && c->commit != pinned_out_commit_) {
        const std::string actor = "poll";
        co_await Deploy(*c, store::Trigger::kPoll, actor);
      }
    }
    if (shutting_down_) break;
    // poll = 0: only webhooks and notify wake this project (a later issue);
    // until then it sleeps until shutdown.
    Duration delay = project_.poll.count() > 0 ? NextPollDelay() : Duration(24LL * 3600 * 1000);
    co_await wake_->Wait(delay);
  }
  done_ = true;
}

asio::awaitable<Result<std::optional<Candidate>>> ProjectRunner::Poll() {
  std::vector<std::string> patterns;
  if (project_.tags.empty()) {
    patterns.push_back("refs/heads/" + project_.branch);
  } else {
    patterns.push_back("refs/tags/*");
  }
  auto refs = co_await git_.LsRemote(project_.repo, patterns);
  if (!refs.ok()) co_return refs.status();
  std::optional<git::RemoteRef> chosen;
  if (project_.tags.empty()) {
    for (const auto& r : *refs) {
      if (r.name == patterns[0]) chosen = r;
    }
    if (!chosen) {
      co_return Status::Error("branch '" + project_.branch + "' not found in " + project_.repo);
    }
  } else {
    chosen = git::NewestMatchingTag(*refs, project_.tags);
    if (!chosen) co_return std::optional<Candidate>();  // no release tag yet: nothing to do
  }
  co_return std::optional<Candidate>(
      Candidate{chosen->name, chosen->commit, git::VersionLabel(chosen->name, chosen->commit)});
}

asio::awaitable<void> ProjectRunner::Recover() {
  auto last = ctx_.store->LatestDeployment(project_.name);
  if (last.ok() && last->has_value()) {
    const auto& d = **last;
    last_deployment_id_ = d.id;
    last_deployment_status_ = std::string(store::ToString(d.status));
    if (d.status == store::DeploymentStatus::kFailed ||
        d.status == store::DeploymentStatus::kRolledBack) {
      pinned_out_commit_ = d.to_commit;
      last_error_ = d.error;
    }
  }
  auto recorded = ctx_.store->GetProcess(project_.name);
  if (!recorded.ok() || !recorded->has_value()) co_return;
  const store::Process p = **recorded;
  auto adopted = supervise::Program::Adopt(ctx_.executor, static_cast<pid_t>(p.pid),
                                           p.start_ticks);
  if (adopted.ok()) {
    program_ = *adopted;
    version_ = p.version;
    commit_ = p.commit;
    release_ = p.release;
    started_at_ = p.started_at;
    ref_ = project_.tags.empty() ? "refs/heads/" + project_.branch : "refs/tags/" + p.version;
    spdlog::info("project {}: re-adopted {} (pid {})", project_.name, p.version, p.pid);
    const supervise::HealthContext no_context;
    auto probe = co_await supervise::ProbeOnce(project_.health, no_context, Duration(2000));
    healthy_ = probe.ok();
    co_return;
  }
  spdlog::warn("project {}: recorded program {} (pid {}) is not running: {}", project_.name,
               p.version, p.pid, adopted.error());
  if (releases_.Current() == p.release && releases_.Exists(p.release)) {
    std::string ref =
        project_.tags.empty() ? "refs/heads/" + project_.branch : "refs/tags/" + p.version;
    Status s = co_await StartRelease(p.release, ref, p.version, p.commit);
    if (s.ok()) {
      spdlog::info("project {}: started {} again (pid {})", project_.name, p.version,
                   program_->pid());
      fs::path dir = releases_.PathOf(p.release);
      const supervise::HealthContext hc{dir,
                                        Environment({ref, p.commit, p.version}, dir.string())};
      Status health = co_await supervise::WaitHealthy(*program_, project_.health, hc);
      healthy_ = health.ok();
      if (!health.ok()) spdlog::warn("project {}: {}", project_.name, health.message());
    } else {
      spdlog::error("project {}: could not start {} again: {}", project_.name, p.version,
                    s.message());
    }
  } else {
    (void)ctx_.store->DeleteProcess(project_.name);
  }
}

}  // namespace anthill::deploy
