#include "agent/project_agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "agent/download.h"
#include "deploy/swap.h"

namespace anthill::agent {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

constexpr Duration kFirstRetry{5000};
// Releases kept besides the ones the desired state names and the running
// one: the newest few, for a rollback the orchestrator may ask for.
constexpr int kKeepReleases = 5;
constexpr Duration kMaxRetry{5 * 60 * 1000};

// The run target's outcomes, as ProjectReport says them.
constexpr const char* kSwitching = "switching";
constexpr const char* kSucceeded = "succeeded";
constexpr const char* kFailed = "failed";

// A failed download worth trying again without a new desired state: not a
// checksum or size mismatch, a bad name (kInvalidArgument), nor an
// artifact the store does not have (kNotFound).
bool MayPass(const Status& s) {
  return s.code() != StatusCode::kInvalidArgument && s.code() != StatusCode::kNotFound;
}

}  // namespace

ProjectAgent::ProjectAgent(const AgentContext* ctx, std::string project)
    : ctx_(ctx),
      project_(std::move(project)),
      releases_(ctx_->data_dir / "projects" / project_),
      wake_(std::make_unique<Event>(ctx_->executor)) {
  report_.project = project_;
}

ProjectAgent::~ProjectAgent() = default;

// --- Start-up ------------------------------------------------------------------

asio::awaitable<void> ProjectAgent::Recover(AgentDb::ProjectRow row) {
  if (!row.report.empty()) {
    auto report = deploy::ParseProjectReport(row.report);
    if (report.ok()) report_ = std::move(report.value());
    report_.project = project_;
  }
  failed_run_ = row.failed_run;
  if (row.desired.empty()) co_return;
  auto desired = deploy::ParseDesiredProject(row.desired);
  if (!desired.ok()) {
    spdlog::error("project {}: cannot read its last desired state: {}", project_, desired.error());
    co_return;
  }
  applied_ = std::move(desired.value());
  const deploy::AgentProgram program = applied_->program;
  asio::awaitable<void> using_program = UseProgram(program);
  co_await std::move(using_program);
}

asio::awaitable<void> ProjectAgent::UseProgram(const deploy::AgentProgram& program) {
  if (supervisor_) {
    spdlog::info("project {}: its program's settings changed; they apply from its next start",
                 project_);
    supervisor_->Shutdown();
    retired_.push_back(std::move(supervisor_));
  }
  program_ = program;
  supervisor_ = std::make_unique<supervise::Supervisor>(
      ctx_->executor, SpecOf(project_, program_, ctx_->data_dir, ctx_->env), ctx_->store);
  const supervise::Supervisor::Complete complete = [this](supervise::Deployed& what) {
    return Complete(what);
  };
  asio::awaitable<void> recovering = supervisor_->Recover(complete);
  co_await std::move(recovering);
  // What runs is the truth: a kill between switching `current` and
  // starting the new release leaves `current` ahead of it.
  const std::string& release = supervisor_->running().what.release;
  if (!release.empty() && releases_.Current() != release && releases_.Exists(release)) {
    (void)releases_.SwitchCurrent(release);
  }
  supervisor_->StartLoops();
}

bool ProjectAgent::Complete(supervise::Deployed& what) const {
  if (what.release.empty() || !releases_.Exists(what.release)) return false;
  // The ref is the one release the desired state knows by that name.
  deploy::AgentRelease known{what.release, what.version, what.commit, "", "", "", 0};
  if (applied_) {
    std::vector<deploy::AgentRelease> all = applied_->fetch;
    if (applied_->run) all.push_back(*applied_->run);
    for (const auto& r : all) {
      if (r.release == what.release) known.ref = r.ref;
    }
  }
  what = DeployedOf(known, what.deployment_id);
  return true;
}

supervise::Deployed ProjectAgent::DeployedOf(const deploy::AgentRelease& r,
                                             int64_t deployment_id) const {
  const fs::path dir = releases_.PathOf(r.release);
  build::Identity id{project_, r.commit, r.version, r.ref, ctx_->machine, dir.string()};
  return {r.release,    dir,   r.version,
          r.commit,     r.ref, ProgramEnvironment(ctx_->base_env, ctx_->env, program_.env, id),
          deployment_id};
}

// --- The desired state -----------------------------------------------------------

void ProjectAgent::Want(deploy::DesiredProject desired, int64_t generation,
                        deploy::AgentArtifactStore artifacts) {
  desired_ = std::move(desired);
  generation_ = generation;
  artifacts_ = std::move(artifacts);
  wanted_ = true;
  changed_ = true;
  wake_->Set();
}

void ProjectAgent::Unwanted() {
  if (!wanted_) return;
  wanted_ = false;
  const supervise::Running none;
  const supervise::Running& now = supervisor_ ? supervisor_->running() : none;
  spdlog::info("project {}: no longer in this machine's desired state; {}", project_,
               now.alive() ? "its program " + now.what.version + " (pid " +
                                 std::to_string(now.program->pid()) + ") is left running"
                           : std::string("nothing of it runs"));
}

asio::awaitable<void> ProjectAgent::Run() {
  running_ = true;
  Duration retry = kFirstRetry;
  while (!stopping_) {
    if (!wanted_ || !changed_) {
      wake_->Reset();
      co_await wake_->Wait(kUntilWoken);
      continue;
    }
    changed_ = false;
    asio::awaitable<bool> reconciling = Reconcile();
    const bool again = co_await std::move(reconciling);
    if (!again) {
      retry = kFirstRetry;
      continue;
    }
    if (changed_) continue;
    // Something that may pass failed: a pass again after a pause, sooner
    // when a new part comes.
    wake_->Reset();
    const bool woken = co_await wake_->Wait(retry);
    if (!woken) changed_ = true;
    retry = std::min(retry * 2, kMaxRetry);
  }
  if (supervisor_) supervisor_->Shutdown();
  running_ = false;
}

void ProjectAgent::Shutdown() {
  stopping_ = true;
  wake_->Set();
  // Not while a pass runs: a swap under way ends first (Run shuts it down).
  if (!running_ && supervisor_) supervisor_->Shutdown();
}

asio::awaitable<bool> ProjectAgent::Reconcile() {
  // Copies: a newer part may come while this pass is suspended.
  const deploy::DesiredProject d = *desired_;
  const deploy::AgentArtifactStore where = artifacts_;
  report_.generation = generation_;
  if (!supervisor_ || d.program != program_) {
    asio::awaitable<void> using_program = UseProgram(d.program);
    co_await std::move(using_program);
  }
  applied_ = d;
  Save();

  // Phase 1: every release named, here and checked.
  std::vector<deploy::AgentRelease> needed = d.fetch;
  if (d.run && std::none_of(needed.begin(), needed.end(), [&](const deploy::AgentRelease& r) {
        return r.release == d.run->release;
      })) {
    needed.push_back(*d.run);
  }
  // Failures of releases no longer named are no longer news.
  std::erase_if(report_.fetch_failed, [&](const auto& failed) {
    return std::none_of(needed.begin(), needed.end(),
                        [&](const deploy::AgentRelease& r) { return r.release == failed.first; });
  });
  bool again = false;
  std::unique_ptr<artifact::ArtifactStore> store;
  for (const deploy::AgentRelease& r : needed) {
    if (stopping_) co_return false;
    if (releases_.Exists(r.release)) {
      report_.fetch_failed.erase(r.release);
      continue;
    }
    if (!store) {
      auto opened = ctx_->artifacts(where);
      if (!opened.ok()) {
        for (const deploy::AgentRelease& missing : needed) {
          if (!releases_.Exists(missing.release)) {
            report_.fetch_failed[missing.release] = opened.error();
          }
        }
        spdlog::error("project {}: {}", project_, opened.error());
        break;
      }
      store = std::move(opened.value());
    }
    asio::awaitable<Status> fetching = FetchRelease(store.get(), &releases_, ctx_->data_dir / "tmp",
                                                    ctx_->steps, d.deployment_id, project_, r);
    const Status fetched = co_await std::move(fetching);
    if (fetched.ok()) {
      report_.fetch_failed.erase(r.release);
      spdlog::info("project {}: release {} ({}) downloaded and checked", project_, r.release,
                   r.version);
    } else {
      report_.fetch_failed[r.release] = fetched.message();
      again = again || MayPass(fetched);
    }
    QueueReport();
  }

  // Phase 2: what is to run, runs.
  if (d.run && !stopping_) {
    asio::awaitable<void> running = RunTarget(d);
    co_await std::move(running);
  }
  QueueReport();
  co_return again;
}

asio::awaitable<void> ProjectAgent::RunTarget(const deploy::DesiredProject& d) {
  const deploy::AgentRelease& run = *d.run;
  const supervise::Running& now = supervisor_->running();
  if (now.alive() && now.what.release == run.release) {
    // A retry after a lost answer, or a restart: it is done, not redone.
    if (report_.run_deployment_id != d.deployment_id || report_.run_release != run.release ||
        report_.run_status != kSucceeded) {
      spdlog::info("project {}: {} already runs (pid {}) for deployment {}", project_, run.version,
                   now.program->pid(), d.deployment_id);
      SetRun(d.deployment_id, run.release, kSucceeded, "");
    }
    co_return;
  }
  const std::string target = std::to_string(d.deployment_id) + " " + run.release;
  if (failed_run_ == target) co_return;
  if (!releases_.Exists(run.release)) {
    auto why = report_.fetch_failed.find(run.release);
    SetRun(d.deployment_id, run.release, kFailed,
           "release " + run.release + " is not here: " +
               (why != report_.fetch_failed.end() ? why->second : "not downloaded"));
    co_return;
  }
  SetRun(d.deployment_id, run.release, kSwitching, "");
  deploy::SwapPlan plan;
  plan.deployment_id = d.deployment_id;
  plan.target = DeployedOf(run, d.deployment_id);
  plan.rollback = d.rollback;
  plan.zero_downtime = !program_.listen.empty();
  deploy::Swap swap(supervisor_.get(), &releases_, ctx_->steps, project_, plan);
  supervisor_->BeginSwap();
  asio::awaitable<Status> swapping = swap.In();
  const Status in = co_await std::move(swapping);
  std::optional<Status> back;
  if (!in.ok()) {
    asio::awaitable<Status> going_back = swap.Back();
    back = co_await std::move(going_back);
  }
  supervisor_->EndSwap();
  if (in.ok()) {
    supervisor_->ResetAfterDeploy();
    failed_run_.clear();
    spdlog::info("project {}: {} runs (deployment {})", project_, run.version, d.deployment_id);
    SetRun(d.deployment_id, run.release, kSucceeded, "");
    std::set<std::string> keep = {run.release};
    for (const deploy::AgentRelease& r : d.fetch) keep.insert(r.release);
    auto pruned = releases_.Prune(kKeepReleases, keep);
    if (!pruned.ok()) spdlog::warn("project {}: prune: {}", project_, pruned.error());
    co_return;
  }
  std::string error = in.message();
  if (back->ok()) {
    error += "; rolled back to " + supervisor_->running().what.version;
  } else {
    error += "; " + back->message();
  }
  failed_run_ = target;
  spdlog::warn("project {}: deployment {} failed here: {}", project_, d.deployment_id, error);
  SetRun(d.deployment_id, run.release, kFailed, error);
}

void ProjectAgent::SetRun(int64_t deployment_id, const std::string& release,
                          const std::string& status, const std::string& error) {
  report_.run_deployment_id = deployment_id;
  report_.run_release = release;
  report_.run_status = status;
  report_.run_error = error;
  QueueReport();
}

// --- Reports -------------------------------------------------------------------

deploy::ProjectReport ProjectAgent::Report() const {
  deploy::ProjectReport r = report_;
  r.project = project_;
  r.fetched.clear();
  for (const std::string& name : releases_.List()) {
    if (!name.ends_with(".partial")) r.fetched.push_back(name);
  }
  const supervise::Running none;
  const supervise::Running& now = supervisor_ ? supervisor_->running() : none;
  r.running_release.clear();
  r.running_version.clear();
  r.running_commit.clear();
  r.pid = 0;
  r.since.reset();
  r.health = std::string(store::ToString(store::Health::kUnknown));
  if (now.alive()) {
    r.running_release = now.what.release;
    r.running_version = now.what.version;
    r.running_commit = now.what.commit;
    r.pid = now.program->pid();
    r.health = std::string(store::ToString(now.health));
    r.since = now.started_at;
  }
  return r;
}

void ProjectAgent::QueueReport() {
  queued_at_ = std::chrono::steady_clock::now();
  Save();
  Status s = ctx_->db->QueueState(project_, deploy::ToJson(Report()));
  if (!s.ok()) spdlog::error("project {}: cannot queue its report: {}", project_, s.message());
  if (ctx_->queued) ctx_->queued();
}

void ProjectAgent::Save() {
  AgentDb::ProjectRow row;
  row.project = project_;
  row.desired = applied_ ? deploy::ToJson(*applied_) : "";
  row.report = deploy::ToJson(report_);
  row.failed_run = failed_run_;
  Status s = ctx_->db->SaveProject(row);
  if (!s.ok()) spdlog::error("project {}: {}", project_, s.message());
}

}  // namespace anthill::agent
