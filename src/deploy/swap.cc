#include "deploy/swap.h"

#include <spdlog/spdlog.h>

namespace anthill::deploy {

namespace asio = boost::asio;

Swap::Swap(supervise::Supervisor* supervisor, release::Releases* releases, StepSink* steps,
           std::string project, SwapPlan plan)
    : supervisor_(supervisor),
      releases_(releases),
      steps_(steps),
      project_(std::move(project)),
      plan_(std::move(plan)) {}

asio::awaitable<Status> Swap::StartRelease(const supervise::Deployed& what, bool verified) {
  Status s = releases_->SwitchCurrent(what.release);
  if (!s.ok()) co_return s;
  co_return co_await supervisor_->Start(what, verified);
}

asio::awaitable<Status> Swap::StartStep() {
  StepRecord step(*steps_, plan_.deployment_id, project_, store::StepName::kStart);
  Status s = step.End(co_await StartRelease(plan_.target, plan_.rollback));
  co_return s.Prefixed("start failed");
}

asio::awaitable<Status> Swap::In() {
  previous_ = supervisor_->running();
  if (plan_.zero_downtime && previous_.alive()) co_return co_await InWithoutDowntime();
  if (previous_.alive()) {
    StepRecord step(*steps_, plan_.deployment_id, project_, store::StepName::kStop);
    auto out = co_await supervisor_->StopCurrent();
    if (out) {
      spdlog::info("project {}: {} (pid {}) {}", project_, previous_.what.version,
                   previous_.program->pid(), out->Describe());
    }
    (void)step.End(Status::Ok());
  }
  old_stopped_ = true;
  // Killed before the start below, a restarted Anthill starts this release
  // (it finishes the rollback) instead of the one left.
  if (plan_.rollback) supervisor_->RecordIntent(plan_.target);
  if (Status s = co_await StartStep(); !s.ok()) co_return s;
  StepRecord step(*steps_, plan_.deployment_id, project_, store::StepName::kHealthcheck);
  Status healthy = co_await supervisor_->CheckHealth();
  if (healthy.ok()) healthy = co_await supervisor_->StaysHealthy();
  if (healthy.ok() && !plan_.rollback) supervisor_->Promote();
  co_return step.End(healthy);
}

asio::awaitable<Status> Swap::InWithoutDowntime() {
  // start -> ready -> stop: the old program serves (on the same sockets)
  // until the new one is ready, so no connection is refused.
  if (Status s = co_await StartStep(); !s.ok()) co_return s;
  {
    StepRecord step(*steps_, plan_.deployment_id, project_, store::StepName::kHealthcheck);
    Status s = co_await supervisor_->WaitReady();
    // The old version serves beside it until the new one has stayed healthy.
    if (s.ok()) s = co_await supervisor_->StaysHealthy();
    s = step.End(s);
    if (!s.ok()) co_return s;
  }
  supervisor_->SetHealthy();
  // Recorded before the old one stops: a restart from here on keeps the new.
  if (!plan_.rollback) supervisor_->Promote();
  StepRecord step(*steps_, plan_.deployment_id, project_, store::StepName::kStop);
  auto out = co_await supervisor_->Stop(*previous_.program);
  spdlog::info("project {}: {} (pid {}) {}", project_, previous_.what.version,
               previous_.program->pid(), out.Describe());
  old_stopped_ = true;
  co_return step.End(Status::Ok());
}

asio::awaitable<Status> Swap::Back() {
  StepRecord step(*steps_, plan_.deployment_id, project_, store::StepName::kRollback);
  const supervise::Running now = supervisor_->running();
  if (previous_.alive() && now.program != previous_.program) {
    // The old program never stopped (zero-downtime swap): stop the new one
    // and keep the old one, which never noticed.
    if (now.program) {
      auto out = co_await supervisor_->Stop(*now.program);
      spdlog::info("project {}: stopped failed {}: {}", project_, plan_.target.version,
                   out.Describe());
    }
    supervisor_->Restore(previous_);
    Status s = releases_->SwitchCurrent(previous_.what.release);
    co_return step.End(s.Prefixed("rollback to " + previous_.what.version + " failed"));
  }
  if (now.program && now.program != previous_.program && !now.program->exited()) {
    auto out = co_await supervisor_->Stop(*now.program);
    spdlog::info("project {}: stopped failed {}: {}", project_, plan_.target.version,
                 out.Describe());
  }
  const bool gone = previous_.what.release.empty() || !releases_->Exists(previous_.what.release);
  supervisor_->Clear(gone);
  if (gone) co_return step.End(Status::Error("no previous release to roll back to"));
  Status s = co_await StartRelease(previous_.what, true);
  if (s.ok()) s = co_await supervisor_->CheckHealth();
  co_return step.End(s.Prefixed("rollback to " + previous_.what.version + " failed"));
}

}  // namespace anthill::deploy
