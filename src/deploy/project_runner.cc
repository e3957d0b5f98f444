#include "deploy/project_runner.h"

#include <fnmatch.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "base/files.h"
#include "base/strings.h"
#include "build/environment.h"
#include "os/process.h"
#include "os/sockets.h"
#include "supervise/app_log.h"
#include "supervise/health.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// Long enough to mean "until woken".
constexpr Duration kForever{24LL * 3600 * 1000};


}  // namespace

ProjectRunner::ProjectRunner(Context ctx, config::Project project)
    : ctx_(std::move(ctx)),
      project_(std::move(project)),
      git_(ctx_.data_dir / "tmp", project_.build_timeout),
      releases_(ctx_.data_dir / "projects" / project_.name),
      rng_(std::random_device{}()),
      stopper_(std::make_shared<os::CommandStopper>()),
      poll_wake_(std::make_unique<Event>(ctx_.executor)),
      work_wake_(std::make_unique<Event>(ctx_.executor)),
      slot_wake_(std::make_unique<Event>(ctx_.executor)),
      supervise_wake_(std::make_unique<Event>(ctx_.executor)) {}

ProjectRunner::~ProjectRunner() {
  for (int fd : listeners_) os::CloseFd(fd);
}

Status ProjectRunner::EnsureListeners() {
  if (project_.listen.empty() || !listeners_.empty()) return Status::Ok();
  // After a restart the running program still holds the sockets: take them
  // back from it (one accept queue, no connection refused); else bind.
  std::vector<int> fds;
  for (size_t i = 0; i < project_.listen.size(); ++i) {
    const std::string& spec = project_.listen[i];
    Result<int> fd = Status::Error("no program");
    if (program_ && !program_->exited()) fd = program_->TakeListener(3 + static_cast<int>(i), spec);
    if (fd.ok()) {
      spdlog::info("project {}: took {} back from pid {}", project_.name, spec, program_->pid());
    } else {
      fd = os::BindListener(spec);
    }
    if (!fd.ok()) {
      for (int f : fds) os::CloseFd(f);
      return fd.status();
    }
    fds.push_back(*fd);
  }
  listeners_ = std::move(fds);
  return Status::Ok();
}

fs::path ProjectRunner::ProjectDir() const { return ctx_.data_dir / "projects" / project_.name; }

fs::path ProjectRunner::BuildLog(int64_t id) const {
  return ctx_.data_dir / "logs" / "build" / (std::to_string(id) + ".log");
}

fs::path ProjectRunner::AppLog() const {
  return ctx_.data_dir / "logs" / "app" / (project_.name + ".log");
}

std::string ProjectRunner::RuleRef() const {
  return project_.tags.empty() ? "refs/heads/" + project_.branch : "";
}

const char* ProjectRunner::PhaseName(Phase p) {
  switch (p) {
    case Phase::kWaitingForSlot: return "waiting for a build slot";
    case Phase::kBuilding: return "building";
    case Phase::kSwapping: return "swapping";
    case Phase::kNone: break;
  }
  return "";
}

std::string ProjectRunner::RefOfVersion(const std::string& version) const {
  return project_.tags.empty() ? RuleRef() : "refs/tags/" + version;
}

std::vector<std::string> ProjectRunner::Environment(const Candidate& c,
                                                    const std::string& release_dir) const {
  build::Identity id{project_.name, c.commit, c.version, c.ref, ctx_.machine, release_dir};
  return build::ProjectEnvironment(os::CurrentEnvironment(), project_, id);
}

void ProjectRunner::Start() {
  started_ = true;
  ++loops_running_;
  asio::co_spawn(ctx_.executor, [this]() -> asio::awaitable<void> { co_await Run(); },
                 asio::detached);
}

void ProjectRunner::Shutdown() {
  shutting_down_ = true;
  stopper_->Stop();
  poll_wake_->Set();
  work_wake_->Set();
  slot_wake_->Set();
  supervise_wake_->Set();
}

ProjectState ProjectRunner::State() const {
  ProjectState s;
  s.name = project_.name;
  s.repo = project_.repo;
  s.branch = project_.tags.empty() ? project_.branch : "";
  s.tags = project_.tags;
  bool running = program_ && !program_->exited();
  s.state = !recovered_        ? "starting"
            : queue_.running() ? "deploying"
            : running          ? "running"
            : restarting_      ? "restarting"
                               : "stopped";
  s.health = !running                        ? "unknown"
             : health_ == Health::kHealthy   ? "healthy"
             : health_ == Health::kUnhealthy ? "unhealthy"
                                             : "unknown";
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
  s.pinned_out_commit = newest_pin_;
  s.pinned_out = pins_;
  s.restarts = restarts_;
  s.last_exit = last_exit_;
  s.held = held_;
  return s;
}

QueueState ProjectRunner::Queue() const {
  QueueState q;
  q.project = project_.name;
  auto load = [&](const std::optional<queue::Request>& r) -> std::optional<store::Deployment> {
    if (!r) return std::nullopt;
    auto d = ctx_.store->GetDeployment(r->deployment_id);
    if (!d.ok() || !d->has_value()) return std::nullopt;
    return **d;
  };
  q.running = load(queue_.running());
  q.waiting = load(queue_.waiting());
  if (queue_.running()) q.running_phase = PhaseName(phase_);
  if (queue_.waiting()) {
    TimePoint ready = queue_.ReadyAt(project_.quiet_period);
    if (queue_.running()) {
      q.waiting_reason = "waiting for deployment " +
                         std::to_string(queue_.running()->deployment_id) + " to finish";
    } else if (Now() < ready) {
      q.waiting_reason = "quiet period: starts at " + FormatRfc3339(ready) +
                         " unless another push comes first";
    } else {
      q.waiting_reason = "starting";
    }
  }
  return q;
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

asio::awaitable<void> ProjectRunner::Run() {
  co_await Recover();
  FinishInterruptedRollback();
  recovered_ = true;
  // Not counted in loops_running_: it holds no record open and ends with the
  // io_context (a program outlives Anthill by design).
  asio::co_spawn(ctx_.executor, [this]() -> asio::awaitable<void> { co_await SuperviseLoop(); },
                 asio::detached);
  asio::co_spawn(
      ctx_.executor,
      [this]() -> asio::awaitable<void> {
        // The program writes its log itself; size is checked every few seconds.
        while (!shutting_down_) {
          auto rotated = supervise::RotateIfLarger(AppLog(), project_.log_max_size);
          if (!rotated.ok()) {
            spdlog::warn("project {}: {}", project_.name, rotated.error());
          } else if (*rotated) {
            spdlog::info("project {}: rotated {}", project_.name, AppLog().string());
          }
          co_await SleepFor(Duration(2000));
        }
      },
      asio::detached);
  asio::co_spawn(ctx_.executor, [this]() -> asio::awaitable<void> { co_await HealthWatchLoop(); },
                 asio::detached);
  ++loops_running_;
  asio::co_spawn(ctx_.executor, [this]() -> asio::awaitable<void> { co_await WorkLoop(); },
                 asio::detached);
  co_await PollLoop();
  --loops_running_;
}

asio::awaitable<void> ProjectRunner::PollLoop() {
  // Even a webhook-only project (poll = 0) looks once at start-up, so it runs
  // what its rule says without waiting for the next push.
  bool first = true;
  while (!shutting_down_) {
    const store::Trigger trigger = next_poll_trigger_;
    const std::string actor = next_poll_actor_;
    next_poll_trigger_ = store::Trigger::kPoll;
    next_poll_actor_ = "poll";
    const bool asked = trigger != store::Trigger::kPoll;
    if (project_.poll.count() > 0 || asked || first) {
      first = false;
      auto polled = co_await Poll();
      if (!polled.ok()) {
        const std::string error = "poll: " + polled.error() + DiskFullHint();
        if (poll_failures_ == 0 || last_error_ != error) {
          spdlog::warn("project {}: {}", project_.name, error);
        }
        ++poll_failures_;
        last_error_ = error;
      } else {
        if (poll_failures_ > 0) {
          spdlog::info("project {}: poll works again", project_.name);
          if (last_error_.rfind("poll: ", 0) == 0) last_error_.clear();
        }
        poll_failures_ = 0;
        if (const auto& c = *polled) (void)OfferAutomatic(*c, trigger, actor);
      }
    }
    if (shutting_down_) break;
    // poll = 0: only webhooks and notify wake this project.
    Duration delay = project_.poll.count() > 0 ? NextPollDelay() : kForever;
    if (next_poll_trigger_ != store::Trigger::kPoll) continue;  // asked while we polled
    poll_wake_->Reset();
    co_await poll_wake_->Wait(delay);
  }
}

asio::awaitable<void> ProjectRunner::WorkLoop() {
  while (!shutting_down_) {
    if (!queue_.waiting()) {
      work_wake_->Reset();
      co_await work_wake_->Wait(kForever);
      continue;
    }
    // A burst of pushes settles before anything is built: every new offer
    // moves the start further out.
    TimePoint ready = queue_.ReadyAt(project_.quiet_period);
    if (Now() < ready) {
      work_wake_->Reset();
      co_await work_wake_->Wait(std::chrono::duration_cast<Duration>(ready - Now()) + Duration(1));
      continue;
    }
    queue::Request r = queue_.StartNext();
    cancelled_by_.clear();
    stopper_ = std::make_shared<os::CommandStopper>();
    if (shutting_down_) stopper_->Stop();
    co_await Execute(r);
    phase_ = Phase::kNone;
    queue_.FinishRunning();
  }
  --loops_running_;
}

asio::awaitable<Result<std::optional<Candidate>>> ProjectRunner::Poll() {
  std::vector<std::string> patterns;
  if (project_.tags.empty()) {
    patterns.push_back(RuleRef());
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

asio::awaitable<Result<Candidate>> ProjectRunner::Resolve(const std::string& ref) {
  if (ref.empty()) {
    auto c = co_await Poll();
    if (!c.ok()) co_return c.status();
    if (!c->has_value()) {
      co_return Status::Error("no tag matches '" + project_.tags + "' in " + project_.repo);
    }
    co_return **c;
  }
  std::vector<std::string> patterns;
  if (ref.rfind("refs/", 0) == 0) {
    patterns.push_back(ref);
  } else {
    patterns.push_back("refs/heads/" + ref);
    patterns.push_back("refs/tags/" + ref);
  }
  auto refs = co_await git_.LsRemote(project_.repo, patterns);
  if (!refs.ok()) co_return refs.status();
  for (const auto& want : patterns) {  // a branch wins over a tag of the same name
    for (const auto& r : *refs) {
      if (r.name == want) co_return Candidate{r.name, r.commit, git::VersionLabel(r.name, r.commit)};
    }
  }
  co_return Status::Error("ref '" + ref + "' not found in " + project_.repo);
}

// --- The queue -------------------------------------------------------------

void ProjectRunner::Pin(const std::string& commit, const std::string& reason) {
  if (commit.empty()) return;
  newest_pin_ = commit;
  if (!pins_.emplace(commit, reason).second) return;
  Status s = ctx_.store->AddPin({project_.name, commit, reason, Now()});
  if (!s.ok()) spdlog::error("project {}: cannot record pin: {}", project_.name, s.message());
  spdlog::info("project {}: {} pinned out of automatic deploys: {}", project_.name, commit, reason);
}

void ProjectRunner::Unpin(const std::string& commit) {
  if (newest_pin_ == commit) newest_pin_.clear();
  if (pins_.erase(commit) == 0) return;
  Status s = ctx_.store->RemovePin(project_.name, commit);
  if (!s.ok()) spdlog::error("project {}: cannot record unpin: {}", project_.name, s.message());
}

bool ProjectRunner::DropIfRedundant(const queue::Request& r, const Candidate& c) {
  // By hand, a person may mean "start it again"; a push or poll never does.
  if (r.manual || r.kind != queue::Kind::kDeploy || c.commit.empty()) return false;
  if (!program_ || program_->exited() || commit_ != c.commit) return false;
  RecordCancelled(r.deployment_id, c.version + " is already running; nothing to deploy");
  last_deployment_status_ = std::string(store::ToString(store::DeploymentStatus::kCancelled));
  return true;
}

void ProjectRunner::RecordCancelled(int64_t id, const std::string& why) {
  auto d = ctx_.store->GetDeployment(id);
  if (!d.ok() || !d->has_value()) return;
  store::Deployment row = **d;
  row.status = store::DeploymentStatus::kCancelled;
  row.error = why;
  row.finished_at = Now();
  Status s = ctx_.store->UpdateDeployment(row);
  if (!s.ok()) spdlog::error("project {}: cannot record cancel: {}", project_.name, s.message());
  spdlog::info("project {}: deployment {} cancelled: {}", project_.name, id, why);
}

ActionOutcome ProjectRunner::Enqueue(queue::Request r) {
  store::Deployment d;
  d.project = project_.name;
  d.machine = ctx_.machine;
  d.trigger = r.trigger;
  d.actor = r.actor;
  d.ref = r.ref;
  d.to_version = r.version;
  d.to_commit = r.commit;
  d.release = r.release;
  if (program_ && !program_->exited()) {
    d.from_version = version_;
    d.from_commit = commit_;
  }
  d.status = store::DeploymentStatus::kQueued;
  d.started_at = Now();
  auto id = ctx_.store->CreateDeployment(d);
  if (!id.ok()) {
    spdlog::error("project {}: cannot record a deployment: {}", project_.name, id.error());
    return ActionOutcome{500, 0, "store: " + id.error()};
  }
  r.deployment_id = *id;
  r.queued_at = d.started_at;
  const std::string label = queue::Label(r);
  spdlog::info("project {}: deployment {} queued: {} ({} by {})", project_.name, *id, label,
               store::ToString(r.trigger), r.actor);
  if (auto old = queue_.Offer(std::move(r))) {
    RecordCancelled(old->deployment_id, "superseded by " + label);
  }
  work_wake_->Set();
  return ActionOutcome{202, *id, "deployment " + std::to_string(*id) + " queued: " + label};
}

ActionOutcome ProjectRunner::OfferAutomatic(const Candidate& c, store::Trigger trigger,
                                            const std::string& actor) {
  // What will run once the queue drains: a push of that commit adds nothing.
  const std::string& ahead = queue_.waiting()   ? queue_.waiting()->commit
                             : queue_.running() ? queue_.running()->commit
                                                : commit_;
  if (c.commit == ahead || queue_.Covers(c.commit)) {
    return ActionOutcome{200, 0, c.version + " is already running or queued"};
  }
  auto rolling_back = [](const std::optional<queue::Request>& r) {
    return r && r->kind == queue::Kind::kRollback;
  };
  if (rolling_back(queue_.running()) || rolling_back(queue_.waiting())) {
    // A person asked to go back; a push of what they left must not undo it.
    return ActionOutcome{200, 0, "a rollback is in progress; " + c.version + " waits"};
  }
  if (auto pin = pins_.find(c.commit); pin != pins_.end()) {
    return ActionOutcome{200, 0,
                         c.version + " is pinned out (" + pin->second +
                             "); deploy it by hand or push a newer commit"};
  }
  queue::Request r;
  r.trigger = trigger;
  r.actor = actor;
  r.ref = c.ref;
  r.commit = c.commit;
  r.version = c.version;
  return Enqueue(std::move(r));
}

ActionOutcome ProjectRunner::RequestDeploy(const std::string& ref, const std::string& actor) {
  if (shutting_down_) return ActionOutcome{503, 0, "anthill is stopping"};
  if (!ref.empty()) {
    std::string name = ref.rfind("refs/", 0) == 0 ? ref.substr(5) : ref;
    if (Status s = git::ValidateBranchName(name); !s.ok()) {
      return ActionOutcome{400, 0, "bad ref: " + s.message()};
    }
  }
  queue::Request r;
  r.trigger = store::Trigger::kManual;
  r.actor = actor;
  r.ref = ref;
  r.manual = true;
  return Enqueue(std::move(r));
}

ActionOutcome ProjectRunner::RequestRollback(const std::string& version,
                                             const std::string& actor) {
  if (shutting_down_) return ActionOutcome{503, 0, "anthill is stopping"};
  // The newest deployment that made the wanted release: by default the last
  // good one other than what runs now; else the named version (or release dir).
  store::DeploymentFilter f;
  f.project = project_.name;
  f.limit = 1000;
  std::optional<store::Deployment> target;
  for (int page = 0; page < 100 && !target; ++page) {
    auto list = ctx_.store->ListDeployments(f);
    if (!list.ok()) return ActionOutcome{500, 0, list.error()};
    for (const auto& d : *list) {
      if (d.release.empty() || !releases_.Exists(d.release)) continue;
      bool wanted = version.empty()
                        ? d.status == store::DeploymentStatus::kSucceeded && d.release != release_
                        : d.to_version == version || d.release == version;
      if (wanted) {
        target = d;
        break;
      }
    }
    if (static_cast<int>(list->size()) < f.limit) break;
    f.before_id = list->back().id;
  }
  if (!target) {
    return ActionOutcome{404, 0,
                         version.empty()
                             ? "no earlier good release of " + project_.name + " to roll back to"
                             : "no release of " + project_.name + " with version '" + version +
                                   "' (see anthill deployments " + project_.name + ")"};
  }
  // What the person leaves must not come back by itself, even when Anthill
  // stops before the rollback ends; what they go back to is theirs to run.
  if (program_ && !program_->exited() && !commit_.empty() && commit_ != target->to_commit) {
    Pin(commit_, "rolled back from by " + actor);
  }
  Unpin(target->to_commit);
  return Enqueue(RollbackTo(*target, actor));
}

ActionOutcome ProjectRunner::Notify(const std::string& ref, const std::string& commit,
                                    store::Trigger trigger, const std::string& actor) {
  if (shutting_down_) return ActionOutcome{503, 0, "anthill is stopping"};
  if (!ref.empty() && !project_.tags.empty()) {
    // Tag projects deploy the newest matching tag, whichever was pushed, and
    // a pushed annotated tag names a tag object, not a commit: ask git.
    std::string tag = ref.rfind("refs/tags/", 0) == 0 ? ref.substr(10) : "";
    if (tag.empty() || fnmatch(project_.tags.c_str(), tag.c_str(), 0) != 0) {
      return ActionOutcome{200, 0, "ref " + ref + " does not match tags '" + project_.tags + "'"};
    }
  }
  if (project_.tags.empty() && !ref.empty() && ref != RuleRef() && ref != project_.branch) {
    return ActionOutcome{200, 0, "ref " + ref + " is not the deployed branch " + RuleRef()};
  }
  if (project_.tags.empty() && IsFullSha(commit)) {
    Candidate c{RuleRef(), commit, git::VersionLabel(RuleRef(), commit)};
    return OfferAutomatic(c, trigger, actor);
  }
  next_poll_trigger_ = trigger;
  next_poll_actor_ = actor;
  poll_wake_->Set();
  return ActionOutcome{202, 0, "looking at " + project_.repo + " now"};
}

std::optional<ActionOutcome> ProjectRunner::Cancel(int64_t id, const std::string& actor) {
  const std::string why = "cancelled by " + actor;
  if (auto r = queue_.RemoveWaiting(id)) {
    RecordCancelled(id, why);
    // A person said no to this commit: pushes and polls leave it alone too.
    if (r->kind == queue::Kind::kDeploy && !r->commit.empty()) Pin(r->commit, why);
    return ActionOutcome{200, id, "deployment " + std::to_string(id) + " cancelled"};
  }
  const queue::Request* running = queue_.mutable_running();
  if (!running || running->deployment_id != id) return std::nullopt;
  if (swapping()) {
    return ActionOutcome{409, id,
                         "deployment " + std::to_string(id) +
                             " is already swapping the program; use rollback instead"};
  }
  if (cancelled_by_.empty()) {
    cancelled_by_ = actor;
    stopper_->Stop();
    slot_wake_->Set();
  }
  return ActionOutcome{202, id,
                       "deployment " + std::to_string(id) + " is being cancelled (" + PhaseName(phase_) + ")"};
}

// --- Start-up ----------------------------------------------------------------

asio::awaitable<void> ProjectRunner::Recover() {
  // What the record says about the last decisions: the latest deployment that
  // ended for a reason of its own (not cancelled or interrupted).
  store::DeploymentFilter f;
  f.project = project_.name;
  f.limit = 20;
  auto recent = ctx_.store->ListDeployments(f);
  if (recent.ok()) {
    if (!recent->empty()) {
      last_deployment_id_ = recent->front().id;
      last_deployment_status_ = std::string(store::ToString(recent->front().status));
    }
    for (const auto& d : *recent) {
      using S = store::DeploymentStatus;
      if (d.status == S::kFailed || d.status == S::kRolledBack) {
        last_error_ = d.error;
        break;
      }
      if (d.status == S::kSucceeded) break;
    }
  }
  if (auto pins = ctx_.store->ListPins(project_.name); pins.ok()) {
    for (const auto& p : *pins) pins_.emplace(p.commit, p.reason);
    if (!pins->empty()) newest_pin_ = pins->front().commit;
  } else {
    spdlog::error("project {}: cannot read pinned commits: {}", project_.name, pins.error());
  }
  auto held = ctx_.store->IsHeld(project_.name);
  held_ = held.ok() && *held;
  co_await StopUnverified();
  auto recorded = ctx_.store->GetProcess(project_.name);
  if (!recorded.ok() || !recorded->has_value()) {
    co_await KillOrphans(0);
    co_return;
  }
  const store::Process p = **recorded;
  auto adopted = supervise::Program::Adopt(ctx_.executor, static_cast<pid_t>(p.pid),
                                           p.start_ticks);
  co_await KillOrphans(adopted.ok() ? static_cast<pid_t>(p.pgid) : 0);
  if (auto since = ctx_.store->CountProgramEvents(project_.name, "restarted", p.started_at);
      since.ok()) {
    restarts_ = *since;
  }
  if (adopted.ok()) {
    // What runs is the truth: a crash between switching `current` and
    // starting the new version leaves `current` ahead of it.
    if (releases_.Current() != p.release && releases_.Exists(p.release)) {
      (void)releases_.SwitchCurrent(p.release);
    }
    program_ = *adopted;
    version_ = p.version;
    commit_ = p.commit;
    release_ = p.release;
    started_at_ = p.started_at;
    ref_ = RefOfVersion(p.version);
    spdlog::info("project {}: re-adopted {} (pid {})", project_.name, p.version, p.pid);
    const supervise::HealthContext hc = RunningHealthContext();
    auto probe = co_await supervise::ProbeOnce(project_.health, hc, Duration(2000));
    health_ = probe.ok() ? Health::kHealthy : Health::kUnhealthy;
    co_return;
  }
  spdlog::warn("project {}: recorded program {} (pid {}) is not running: {}", project_.name,
               p.version, p.pid, adopted.error());
  if (held_ && releases_.Exists(p.release)) {
    // What would run: `start` needs it, and the poller must not deploy it
    // again just because nothing runs.
    version_ = p.version;
    commit_ = p.commit;
    release_ = p.release;
    ref_ = RefOfVersion(p.version);
    spdlog::info("project {}: stopped by hand; not started", project_.name);
    co_return;
  }
  // The recorded release is the last one known to run (`current` may be ahead
  // of it if Anthill died mid-swap): bring that back.
  if (releases_.Exists(p.release)) {
    const std::string ref = RefOfVersion(p.version);
    Status s = co_await StartRelease(p.release, ref, p.version, p.commit);
    if (s.ok()) {
      spdlog::info("project {}: started {} again (pid {})", project_.name, p.version,
                   program_->pid());
      Status health = co_await CheckHealth();
      if (!health.ok()) spdlog::warn("project {}: {}", project_.name, health.message());
    } else {
      spdlog::error("project {}: could not start {} again: {}", project_.name, p.version,
                    s.message());
    }
  } else {
    (void)ctx_.store->DeleteProcess(project_.name);
  }
}

queue::Request ProjectRunner::RollbackTo(const store::Deployment& made, const std::string& actor) {
  queue::Request r;
  r.kind = queue::Kind::kRollback;
  r.trigger = store::Trigger::kRollback;
  r.actor = actor;
  r.ref = made.ref;
  r.commit = made.to_commit;
  r.version = made.to_version;
  r.release = made.release;
  r.manual = true;
  return r;
}

void ProjectRunner::FinishInterruptedRollback() {
  auto newest = ctx_.store->LatestDeployment(project_.name);
  if (!newest.ok() || !newest->has_value()) return;
  const store::Deployment& d = **newest;
  if (d.trigger != store::Trigger::kRollback || d.status != store::DeploymentStatus::kInterrupted) {
    return;
  }
  const bool there = program_ && !program_->exited() && commit_ == d.to_commit;
  if (there || !releases_.Exists(d.release)) return;
  spdlog::info("project {}: finishing the rollback to {} that deployment {} did not end",
               project_.name, d.to_version, d.id);
  (void)Enqueue(RollbackTo(d, d.actor));
}

asio::awaitable<void> ProjectRunner::StopUnverified() {
  auto candidate = ctx_.store->GetCandidate(project_.name);
  if (!candidate.ok() || !candidate->has_value()) co_return;
  const store::Process c = **candidate;
  auto recorded = ctx_.store->GetProcess(project_.name);
  const std::string before = recorded.ok() && recorded->has_value()
                                 ? "back to " + (*recorded)->version
                                 : "nothing ran before it";
  auto adopted = supervise::Program::Adopt(ctx_.executor, static_cast<pid_t>(c.pid), c.start_ticks);
  if (adopted.ok()) {
    auto out = co_await (*adopted)->Stop(project_.stop_signal, project_.stop_timeout);
    store::ProgramEvent e{0, project_.name, Now(), "stopped", c.version, c.pid,
                          c.version + " never passed its health check (Anthill stopped during "
                          "it): stopped it, " + (out.killed ? "with SIGKILL" : "it exited") +
                          " after " + FormatDuration(out.took) + "; " + before};
    (void)ctx_.store->AddProgramEvent(e);
    spdlog::warn("project {}: {}", project_.name, e.detail);
  }
  (void)ctx_.store->DeleteCandidate(project_.name);
}

asio::awaitable<void> ProjectRunner::KillOrphans(pid_t keep) {
  std::vector<pid_t> killed;
  const std::string env = "ANTHILL_PROJECT=" + project_.name;
  auto kill = [&](const os::ProcessInfo& orphan, const char* what) {
    spdlog::warn("project {}: killing process group {} ({}) left by a previous anthill (pid {})",
                 project_.name, orphan.pgid, what, orphan.pid);
    (void)os::SignalGroup(orphan.pgid, SIGKILL);
    killed.push_back(orphan.pid);
  };
  for (const auto& orphan : os::ProcessesWithCwdUnder(releases_.releases_dir(), env)) {
    if (keep == 0 || orphan.pgid != keep) kill(orphan, "a program");
  }
  // The build that was running when Anthill stopped wrote its process group
  // into the marker; a build tool's server started by an earlier build (its
  // own session) keeps its warm caches.
  const std::string marker = ReadWholeFile(ProjectDir() / "workspace.dirty");
  const pid_t build_group = static_cast<pid_t>(std::atoll(marker.c_str()));
  if (build_group > 0) {
    for (const auto& orphan : os::ProcessesWithCwdUnder(ProjectDir(), env)) {
      if (orphan.pgid == build_group && orphan.pgid != keep) kill(orphan, "an interrupted build");
    }
  }
  // Their ports and files are free only once they are gone: wait (bounded)
  // before starting anything in their place.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (pid_t pid : killed) {
    while (os::ProcessStartTime(pid).ok() && std::chrono::steady_clock::now() < deadline) {
      co_await SleepFor(Duration(5));
    }
  }
}

// --- Supervision -------------------------------------------------------------

void ProjectRunner::RecordEvent(const std::string& kind, int64_t pid, const std::string& detail) {
  store::ProgramEvent e{0, project_.name, Now(), kind, version_, pid, detail};
  auto id = ctx_.store->AddProgramEvent(e);
  if (!id.ok()) spdlog::error("project {}: cannot record event: {}", project_.name, id.error());
  spdlog::info("project {}: {} {} (pid {}): {}", project_.name, version_, kind, pid, detail);
}

// After a program passed its health check, it is probed every `health.watch`
// while it runs: a program that stops answering is reported unhealthy (state,
// an event, the live UI) and healthy again when it answers. It is not
// restarted for it: a slow dependency should not turn into a restart loop.
asio::awaitable<void> ProjectRunner::HealthWatchLoop() {
  const config::HealthCheck& check = project_.health;
  if (check.kind == config::HealthCheck::Kind::kNone || check.watch.count() <= 0) co_return;
  const Duration limit = std::min(check.timeout, std::clamp(check.watch, Duration(500), Duration(5000)));
  while (!shutting_down_) {
    co_await SleepFor(check.watch);
    auto program = program_;
    if (shutting_down_ || !program || program->exited() || swapping() ||
        health_ == Health::kUnknown) {
      continue;  // nothing that passed its check runs, or a deployment decides now
    }
    const supervise::HealthContext hc = RunningHealthContext();
    Status probe = co_await supervise::ProbeOnce(check, hc, limit);
    if (program != program_ || program->exited() || health_ == Health::kUnknown) continue;
    if (!probe.ok() && health_ == Health::kHealthy) {
      health_ = Health::kUnhealthy;
      RecordEvent("unhealthy", program->pid(), probe.message());
    } else if (probe.ok() && health_ == Health::kUnhealthy) {
      health_ = Health::kHealthy;
      RecordEvent("healthy", program->pid(), "answers its health check again");
    }
  }
}

asio::awaitable<void> ProjectRunner::SuperviseLoop() {
  using std::chrono::steady_clock;
  constexpr Duration kFirstBackoff{1000};
  constexpr Duration kMaxBackoff{60000};
  Duration backoff = kFirstBackoff;
  std::shared_ptr<supervise::Program> handled;  // the last program whose exit was dealt with
  while (!shutting_down_) {
    std::shared_ptr<supervise::Program> p = program_;
    if (!p || p == handled) {  // nothing (new) to watch
      supervise_wake_->Reset();
      co_await supervise_wake_->Wait(kForever);
      continue;
    }
    if (!p->exited()) co_await p->WaitExit(kForever);
    if (shutting_down_) break;
    if (!p->exited() || p != program_) continue;
    handled = p;
    if (p->stop_requested()) continue;
    // A deployment swapping programs sees the exit itself (start or health
    // check fails) and rolls back.
    if (swapping()) continue;

    auto up = std::chrono::duration_cast<Duration>(steady_clock::now() - p->watched_since());
    if (up >= kMaxBackoff) backoff = kFirstBackoff;  // it ran well for a while
    health_ = Health::kUnknown;
    last_exit_ = p->exit_status().Describe() + " after " + FormatDuration(up) + " up";
    const bool again = project_.restart == config::Project::Restart::kAlways ||
                       (project_.restart == config::Project::Restart::kOnFailure &&
                        !p->exit_status().success());
    if (!again || held_) {
      RecordEvent("exited", p->pid(), last_exit_ + "; not restarted (restart = " +
                                          (project_.restart == config::Project::Restart::kNever
                                               ? "never"
                                               : "on-failure") +
                                          ")");
      continue;
    }
    // Start it again after the backoff, unless someone else decides first (a
    // deployment, `anthill stop`), and keep trying while starting fails.
    RecordEvent("exited", p->pid(), last_exit_ + "; restarting in " + FormatDuration(backoff));
    const int64_t old_pid = p->pid();
    for (;;) {
      restarting_ = true;
      supervise_wake_->Reset();
      co_await supervise_wake_->Wait(backoff);
      restarting_ = false;
      backoff = std::min(backoff * 2, kMaxBackoff);
      if (shutting_down_ || program_ != p || held_ || swapping()) break;
      Status started = co_await StartRelease(release_, ref_, version_, commit_);
      if (started.ok()) {
        ++restarts_;
        RecordEvent("restarted", program_->pid(),
                    "pid " + std::to_string(old_pid) + " " + last_exit_);
        (void)co_await CheckHealth();
        break;
      }
      RecordEvent("restart_failed", 0, started.message() + "; next try in " + FormatDuration(backoff));
    }
  }
}

ActionOutcome ProjectRunner::StopProgram(const std::string& actor) {
  if (swapping()) {
    return ActionOutcome{409, 0, "a deployment is swapping the program; try when it has ended"};
  }
  held_ = true;
  (void)ctx_.store->SetHeld(project_.name, true);
  supervise_wake_->Set();  // a pending restart is off
  auto p = program_;
  if (!p || p->exited()) {
    RecordEvent("stopped", 0, "by " + actor + " (it was not running)");
    return ActionOutcome{200, 0, project_.name + " was not running; it stays stopped"};
  }
  asio::co_spawn(
      ctx_.executor,
      [this, p, actor]() -> asio::awaitable<void> {
        auto out = co_await p->Stop(project_.stop_signal, project_.stop_timeout);
        health_ = Health::kUnknown;
        RecordEvent("stopped", p->pid(), "by " + actor + ": " + out.Describe());
      },
      asio::detached);
  return ActionOutcome{202, 0, "stopping " + project_.name + " " + version_ + " (pid " +
                                   std::to_string(p->pid()) + ")"};
}

ActionOutcome ProjectRunner::StartProgram(const std::string& actor) {
  if (swapping()) {
    return ActionOutcome{409, 0, "a deployment is swapping the program; try when it has ended"};
  }
  held_ = false;
  (void)ctx_.store->SetHeld(project_.name, false);
  if (program_ && !program_->exited()) {
    return ActionOutcome{200, 0, project_.name + " is already running (pid " +
                                     std::to_string(program_->pid()) + ")"};
  }
  if (release_.empty() || !releases_.Exists(release_)) {
    return ActionOutcome{409, 0, project_.name + " has no release to start; deploy it first"};
  }
  asio::co_spawn(
      ctx_.executor,
      [this, actor]() -> asio::awaitable<void> {
        const std::string release = release_, ref = ref_, version = version_, commit = commit_;
        Status s = co_await StartRelease(release, ref, version, commit);
        if (!s.ok()) {
          RecordEvent("start_failed", 0, "by " + actor + ": " + s.message());
          co_return;
        }
        RecordEvent("started", program_->pid(), "by " + actor);
        (void)co_await CheckHealth();
      },
      asio::detached);
  return ActionOutcome{202, 0, "starting " + project_.name + " " + version_};
}

}  // namespace anthill::deploy
