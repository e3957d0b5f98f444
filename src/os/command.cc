#include "os/command.h"

#include <signal.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace anthill::os {

namespace asio = boost::asio;

void CommandStopper::Stop() {
  stopped_ = true;
  if (child_ != nullptr) {
    (void)child_->SignalGroup(SIGTERM);
  }
}

std::string CommandResult::Describe() const {
  if (timed_out) return "timed out after " + FormatDuration(elapsed);
  if (stopped) return "stopped";
  return status.Describe();
}

namespace {

// The state the kill timer shares with the coroutine. The timer's handler may
// run after the coroutine has finished (a cancelled wait still completes), so
// it must not touch the coroutine frame once `done` is set.
struct Escalation {
  AsyncChild* child = nullptr;
  bool done = false;
  bool timed_out = false;
};

void ArmKill(std::shared_ptr<asio::steady_timer> timer, std::shared_ptr<Escalation> esc,
             Duration after, int sig, Duration kill_grace) {
  timer->expires_after(after);
  timer->async_wait([timer, esc, sig, kill_grace](const boost::system::error_code& ec) {
    if (ec || esc->done) return;
    esc->timed_out = true;
    (void)esc->child->SignalGroup(sig);
    if (sig != SIGKILL) ArmKill(timer, esc, kill_grace, SIGKILL, kill_grace);
  });
}

}  // namespace

class CommandRun {
 public:
  static void Attach(CommandStopper* s, AsyncChild* c) { s->child_ = c; }
};

asio::awaitable<Result<CommandResult>> RunCommand(SpawnOptions options, Duration timeout,
                                                  Duration kill_grace,
                                                  std::shared_ptr<CommandStopper> stopper) {
  auto executor = co_await asio::this_coro::executor;
  auto started = std::chrono::steady_clock::now();
  if (stopper && stopper->stopped()) {
    CommandResult r;
    r.stopped = true;
    co_return r;
  }
  auto child = Spawn(options);
  if (!child.ok()) co_return child.status();

  AsyncChild running(executor, std::move(child.value()));
  auto esc = std::make_shared<Escalation>();
  esc->child = &running;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  if (timeout.count() > 0) ArmKill(timer, esc, timeout, SIGTERM, kill_grace);
  if (stopper) CommandRun::Attach(stopper.get(), &running);

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
