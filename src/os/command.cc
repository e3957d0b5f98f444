#include "os/command.h"

#include <signal.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace anthill::os {

namespace asio = boost::asio;

void CommandStopper::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (stop_running_) stop_running_();
}

std::string CommandResult::Describe() const {
  if (timed_out) return "timed out after " + FormatDuration(elapsed);
  if (stopped) return "stopped";
  return status.Describe();
}

StatusCode CommandResult::code() const {
  // A timeout is checked first: a command stopped after its limit passed was
  // ended by the limit, whatever else happened.
  if (timed_out) return StatusCode::kTimedOut;
  if (stopped) return StatusCode::kCancelled;
  return status.success() ? StatusCode::kOk : StatusCode::kInternal;
}

namespace {

// The state the kill timer shares with the coroutine. The timer's handler may
// run after the coroutine has finished (a cancelled wait still completes), so
// it must not touch the coroutine frame once `done` is set.
struct Escalation {
  AsyncChild* child = nullptr;
  bool done = false;
  bool timed_out = false;
  bool stopped = false;  // by a CommandStopper: its SIGKILL is not a timeout
};

void ArmKill(std::shared_ptr<asio::steady_timer> timer, std::shared_ptr<Escalation> esc,
             Duration after, int sig, Duration kill_grace) {
  timer->expires_after(after);
  timer->async_wait([timer, esc, sig, kill_grace](const boost::system::error_code& ec) {
    if (ec || esc->done) return;
    if (!esc->stopped) esc->timed_out = true;
    (void)esc->child->SignalGroup(sig);
    if (sig != SIGKILL) ArmKill(timer, esc, kill_grace, SIGKILL, kill_grace);
  });
}

}  // namespace

class CommandRun {
 public:
  static void Attach(CommandStopper* s, std::function<void()> stop) {
    s->stop_running_ = std::move(stop);
  }
};

asio::awaitable<Result<CommandResult>> RunCommand(SpawnOptions options, Duration timeout,
                                                  Duration kill_grace,
                                                  std::shared_ptr<CommandStopper> stopper,
                                                  std::function<void(pid_t)> on_started) {
  auto executor = co_await asio::this_coro::executor;
  auto started = std::chrono::steady_clock::now();
  if (stopper && stopper->stopped()) {
    CommandResult r;
    r.stopped = true;
    co_return r;
  }
  auto child = Spawn(options);
  if (!child.ok()) co_return child.status();
  if (on_started) on_started(child->pid());

  AsyncChild running(executor, std::move(child.value()));
  auto esc = std::make_shared<Escalation>();
  esc->child = &running;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  if (timeout.count() > 0) ArmKill(timer, esc, timeout, SIGTERM, kill_grace);
  if (stopper) {
    // Stopped from outside: SIGTERM to the group now, SIGKILL after the grace
    // (a build that ignores SIGTERM is still ended).
    CommandRun::Attach(stopper.get(), [esc, timer, kill_grace] {
      if (esc->done) return;
      esc->stopped = true;
      (void)esc->child->SignalGroup(SIGTERM);
      timer->cancel();
      ArmKill(timer, esc, kill_grace, SIGKILL, kill_grace);
    });
  }

  ExitStatus status = co_await running.Wait();

  esc->done = true;
  timer->cancel();
  if (stopper) CommandRun::Attach(stopper.get(), nullptr);

  CommandResult result;
  result.status = status;
  result.timed_out = esc->timed_out;
  result.stopped = stopper && stopper->stopped();
  result.elapsed = std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started);
  co_return result;
}

}  // namespace anthill::os
