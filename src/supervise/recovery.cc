// Start-up: what a previous Anthill left running is re-adopted when it is
// what the record says runs, stopped when it never passed its check, and
// killed when nobody recorded it.
#include <signal.h>
#include <spdlog/spdlog.h>

#include "base/files.h"
#include "os/process.h"
#include "supervise/supervisor.h"

namespace anthill::supervise {

namespace asio = boost::asio;

asio::awaitable<void> Supervisor::Recover(const Complete& complete) {
  auto held = store_->IsHeld(spec_.project);
  held_ = held.ok() && *held;
  co_await StopUnverified();
  auto process = store_->GetProcess(spec_.project);
  if (!process.ok() || !process->has_value()) {
    co_await KillOrphans(0);
    co_return;
  }
  const store::Process p = **process;
  // The pid is ours only if the process started when the record says: a
  // reused pid is never mistaken for the program.
  auto adopted = Program::Adopt(executor_, static_cast<pid_t>(p.pid), p.start_ticks);
  co_await KillOrphans(adopted.ok() ? static_cast<pid_t>(p.pgid) : 0);
  if (auto since = store_->CountProgramEvents(spec_.project, store::ProgramEventKind::kRestarted,
                                              p.started_at);
      since.ok()) {
    restarts_ = *since;
  }
  Deployed what{p.release, {}, p.version, p.commit, {}, {}, p.deployment_id};
  const bool there = complete(what);
  if (adopted.ok()) {
    running_ = Running{*adopted, what, p.started_at, Health::kUnknown};
    spdlog::info("project {}: re-adopted {} (pid {})", spec_.project, p.version, p.pid);
    auto probe = co_await ProbeOnce(spec_.health, RunningHealthContext(), Duration(2000));
    running_.health = probe.ok() ? Health::kHealthy : Health::kUnhealthy;
    co_return;
  }
  spdlog::warn("project {}: recorded program {} (pid {}) is not running: {}", spec_.project,
               p.version, p.pid, adopted.error());
  if (held_ && there) {
    // What would run: `start` needs it, and the poller must not deploy it
    // again just because nothing runs.
    running_.what = what;
    spdlog::info("project {}: stopped by hand; not started", spec_.project);
    co_return;
  }
  if (!there) {
    (void)store_->DeleteProcess(spec_.project);
    co_return;
  }
  // The recorded release is the last one known to run (`current` may be
  // ahead of it if Anthill died mid-swap): bring that back.
  Status s = co_await Start(what, true);
  if (!s.ok()) {
    spdlog::error("project {}: could not start {} again: {}", spec_.project, p.version,
                  s.message());
    co_return;
  }
  spdlog::info("project {}: started {} again (pid {})", spec_.project, p.version,
               running_.program->pid());
  Status health = co_await CheckHealth();
  if (!health.ok()) spdlog::warn("project {}: {}", spec_.project, health.message());
}

asio::awaitable<void> Supervisor::StopUnverified() {
  auto candidate = store_->GetCandidate(spec_.project);
  if (!candidate.ok() || !candidate->has_value()) co_return;
  const store::Process c = **candidate;
  auto recorded = store_->GetProcess(spec_.project);
  const std::string before = recorded.ok() && recorded->has_value()
                                 ? "back to " + (*recorded)->version
                                 : "nothing ran before it";
  auto adopted = Program::Adopt(executor_, static_cast<pid_t>(c.pid), c.start_ticks);
  if (adopted.ok()) {
    auto out = co_await Stop(**adopted);
    store::ProgramEvent e{0,
                          spec_.project,
                          Now(),
                          store::ProgramEventKind::kStopped,
                          c.version,
                          c.pid,
                          c.version +
                              " never passed its health check (Anthill stopped during "
                              "it): stopped it, " +
                              (out.killed ? "with SIGKILL" : "it exited") + " after " +
                              FormatDuration(out.took) + "; " + before};
    (void)store_->AddProgramEvent(e);
    spdlog::warn("project {}: {}", spec_.project, e.detail);
  }
  (void)store_->DeleteCandidate(spec_.project);
}

asio::awaitable<void> Supervisor::KillOrphans(pid_t keep) {
  std::vector<pid_t> killed;
  const std::string env = "ANTHILL_PROJECT=" + spec_.project;
  auto kill = [&](const os::ProcessInfo& orphan, const char* what) {
    spdlog::warn("project {}: killing process group {} ({}) left by a previous anthill (pid {})",
                 spec_.project, orphan.pgid, what, orphan.pid);
    (void)os::SignalGroup(orphan.pgid, SIGKILL);
    killed.push_back(orphan.pid);
  };
  for (const auto& orphan : os::ProcessesWithCwdUnder(spec_.releases_dir, env)) {
    if (keep == 0 || orphan.pgid != keep) kill(orphan, "a program");
  }
  // The build that was running when Anthill stopped wrote its process group
  // into the marker; a build tool's server started by an earlier build (its
  // own session) keeps its warm caches.
  const std::string marker = ReadWholeFile(spec_.project_dir / "workspace.dirty");
  const pid_t build_group = static_cast<pid_t>(std::atoll(marker.c_str()));
  if (build_group > 0) {
    for (const auto& orphan : os::ProcessesWithCwdUnder(spec_.project_dir, env)) {
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

}  // namespace anthill::supervise
