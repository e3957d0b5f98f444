// The loops that run beside a program for as long as Anthill does: restart
// it when it exits on its own, probe its health, rotate its log.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "supervise/app_log.h"
#include "supervise/supervisor.h"

namespace anthill::supervise {

namespace asio = boost::asio;

void Supervisor::StartLoops() {
  // None holds a record open, and they end with the io_context (a program
  // outlives Anthill by design).
  asio::co_spawn(
      executor_, [this]() -> asio::awaitable<void> { co_await RestartLoop(); }, asio::detached);
  asio::co_spawn(
      executor_, [this]() -> asio::awaitable<void> { co_await HealthWatchLoop(); }, asio::detached);
  asio::co_spawn(
      executor_, [this]() -> asio::awaitable<void> { co_await LogRotationLoop(); }, asio::detached);
}

asio::awaitable<void> Supervisor::LogRotationLoop() {
  // The program writes its log itself; size is checked every few seconds.
  while (!shutting_down_) {
    auto rotated = RotateIfLarger(spec_.app_log, spec_.log_max_size);
    if (!rotated.ok()) {
      spdlog::warn("project {}: {}", spec_.project, rotated.error());
    } else if (*rotated) {
      spdlog::info("project {}: rotated {}", spec_.project, spec_.app_log.string());
    }
    co_await SleepFor(Duration(2000));
  }
}

// After a program passed its health check, it is probed every `health.watch`
// while it runs: a program that stops answering is reported unhealthy (state,
// an event, the live UI) and healthy again when it answers. It is not
// restarted for it: a slow dependency should not turn into a restart loop.
asio::awaitable<void> Supervisor::HealthWatchLoop() {
  const config::HealthCheck& check = spec_.health;
  if (check.kind == config::HealthCheck::Kind::kNone || check.watch.count() <= 0) co_return;
  const Duration limit =
      std::min(check.timeout, std::clamp(check.watch, Duration(500), Duration(5000)));
  while (!shutting_down_) {
    co_await SleepFor(check.watch);
    auto program = running_.program;
    if (shutting_down_ || !program || program->exited() || swapping_ ||
        running_.health == Health::kUnknown) {
      continue;  // nothing that passed its check runs, or a deployment decides now
    }
    const HealthContext hc = RunningHealthContext();
    Status probe = co_await ProbeOnce(check, hc, limit);
    if (program != running_.program || program->exited() || running_.health == Health::kUnknown) {
      continue;
    }
    if (!probe.ok() && running_.health == Health::kHealthy) {
      running_.health = Health::kUnhealthy;
      RecordEvent(store::ProgramEventKind::kUnhealthy, program->pid(), probe.message());
    } else if (probe.ok() && running_.health == Health::kUnhealthy) {
      running_.health = Health::kHealthy;
      RecordEvent(store::ProgramEventKind::kHealthy, program->pid(),
                  "answers its health check again");
    }
  }
}

// A program that exits on its own is started again per `restart`, with
// backoff (1 s doubling to 60 s, reset after 60 s up).
asio::awaitable<void> Supervisor::RestartLoop() {
  using std::chrono::steady_clock;
  constexpr Duration kFirstBackoff{1000};
  constexpr Duration kMaxBackoff{60000};
  Duration backoff = kFirstBackoff;
  std::shared_ptr<Program> handled;  // the last program whose exit was dealt with
  while (!shutting_down_) {
    std::shared_ptr<Program> p = running_.program;
    if (!p || p == handled) {  // nothing (new) to watch
      wake_->Reset();
      co_await wake_->Wait(kUntilWoken);
      continue;
    }
    if (!p->exited()) co_await p->WaitExit(kUntilWoken);
    if (shutting_down_) break;
    if (!p->exited() || p != running_.program) continue;
    handled = p;
    if (p->stop_requested()) continue;
    // A deployment swapping programs sees the exit itself (start or health
    // check fails) and rolls back.
    if (swapping_) continue;

    auto up = std::chrono::duration_cast<Duration>(steady_clock::now() - p->watched_since());
    if (up >= kMaxBackoff) backoff = kFirstBackoff;  // it ran well for a while
    running_.health = Health::kUnknown;
    last_exit_ = p->exit_status().Describe() + " after " + FormatDuration(up) + " up";
    const bool again =
        spec_.restart == ProgramSpec::Restart::kAlways ||
        (spec_.restart == ProgramSpec::Restart::kOnFailure && !p->exit_status().success());
    if (!again || held_) {
      RecordEvent(store::ProgramEventKind::kExited, p->pid(),
                  last_exit_ + "; not restarted (restart = " +
                      (spec_.restart == ProgramSpec::Restart::kNever ? "never" : "on-failure") +
                      ")");
      continue;
    }
    // Start it again after the backoff, unless someone else decides first (a
    // deployment, `anthill stop`), and keep trying while starting fails.
    RecordEvent(store::ProgramEventKind::kExited, p->pid(),
                last_exit_ + "; restarting in " + FormatDuration(backoff));
    const int64_t old_pid = p->pid();
    for (;;) {
      restarting_ = true;
      wake_->Reset();
      co_await wake_->Wait(backoff);
      restarting_ = false;
      backoff = std::min(backoff * 2, kMaxBackoff);
      if (shutting_down_ || running_.program != p || held_ || swapping_) break;
      const Deployed what = running_.what;
      Status started = co_await Start(what, true);
      if (started.ok()) {
        ++restarts_;
        RecordEvent(store::ProgramEventKind::kRestarted, running_.program->pid(),
                    "pid " + std::to_string(old_pid) + " " + last_exit_);
        (void)co_await CheckHealth();
        break;
      }
      RecordEvent(store::ProgramEventKind::kRestartFailed, 0,
                  started.message() + "; next try in " + FormatDuration(backoff));
    }
  }
}

}  // namespace anthill::supervise
