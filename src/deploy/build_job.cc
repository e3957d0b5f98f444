#include "deploy/build_job.h"

#include <fstream>

#include "base/files.h"

namespace anthill::deploy {

namespace asio = boost::asio;
namespace fs = std::filesystem;

BuildJob::BuildJob(git::Git* git, release::Releases* releases, StepSink* steps, BuildSpec spec)
    : git_(git), releases_(releases), steps_(steps), spec_(std::move(spec)) {}

std::optional<std::string> BuildJob::Reuse(const BuildTarget& t) {
  auto existing = releases_->FindByCommit(t.candidate.commit);
  if (!existing) return std::nullopt;
  StepRecord step(*steps_, t.deployment_id, spec_.project, store::StepName::kRelease);
  (void)AppendToFile(t.log, "anthill: reusing release " + *existing + " built from " +
                                t.candidate.commit + "; nothing to build\n");
  (void)step.End(Status::Ok());
  return existing;
}

config::Project::Clean CleanOfJob(std::string_view word) {
  return config::CleanFromWord(word).value_or(config::Project::Clean::kNever);
}

std::string BuildJob::WhyClean(const fs::path& dirty, const fs::path& failed) const {
  using Clean = config::Project::Clean;
  std::error_code ec;
  if (fs::exists(dirty, ec)) return "the previous build was interrupted";
  if (spec_.clean == Clean::kAlways) return "clean = \"always\"";
  if (spec_.clean == Clean::kOnFailure && fs::exists(failed, ec)) {
    return "the previous build or test failed (clean = \"on-failure\")";
  }
  return "";
}

asio::awaitable<Result<std::string>> BuildJob::Run(const BuildTarget& t, const BuildControls& c) {
  const fs::path workspace = spec_.project_dir / "workspace";
  // Present while a build or test runs, removed when they end by themselves:
  // found at the next build, it means the last one was killed half-way (an
  // Anthill crash, a cancel, a timeout) and its outputs cannot be trusted.
  const fs::path dirty = spec_.project_dir / "workspace.dirty";
  // Present after a build or test that failed by itself, until one passes:
  // with clean = "on-failure" the next build starts clean.
  const fs::path failed = spec_.project_dir / "workspace.failed";
  {
    StepRecord step(*steps_, t.deployment_id, spec_.project, store::StepName::kFetch);
    Status s = co_await git_->FetchAndCheckout(workspace, spec_.repo, t.candidate.ref,
                                               t.candidate.commit, t.log);
    const std::string why = s.ok() ? WhyClean(dirty, failed) : "";
    if (!why.empty()) {
      (void)AppendToFile(
          t.log,
          "anthill: " + why + "; cleaning the workspace (git clean -ffdx) for a fresh build\n");
      s = co_await git_->Clean(workspace, t.log);
      std::error_code ec;
      if (s.ok()) fs::remove(dirty, ec);
    }
    s = step.End(s);
    if (!s.ok()) co_return s.Prefixed("fetch failed");
  }
  for (auto [name, command] :
       {std::pair{store::StepName::kBuild, &spec_.build}, {store::StepName::kTest, &spec_.test}}) {
    if (command->empty()) continue;
    if (c.stopped()) co_return Status::Error("cancelled");
    StepRecord step(*steps_, t.deployment_id, spec_.project, name);
    build::ShellStep shell{std::string(store::ToString(name)),
                           *command,
                           workspace,
                           t.env,
                           t.log,
                           spec_.timeout,
                           nullptr};
    // The marker names the build's process group, so that after a crash
    // start-up kills that group and nothing else that lives in the workspace.
    shell.on_started = [dirty](pid_t group) {
      std::ofstream out(dirty, std::ios::trunc | std::ios::binary);
      out << group << "\n";
    };
    (void)AppendToFile(dirty, "");
    Status result = co_await build::RunShellStep(shell, t.log_shown, c.stopper);
    // Ended by itself (success or an honest failure): outputs are consistent.
    // Stopped or timed out: the next build starts clean.
    bool killed = c.stopped() || result.code() == StatusCode::kTimedOut;
    std::error_code ec;
    if (!killed) fs::remove(dirty, ec);
    if (!killed && !result.ok()) (void)AppendToFile(failed, "");
    if (!killed) result = result.Suffixed(c.disk_full_hint());
    Status s = step.End(result, c.stopped() ? c.stopped_as() : store::StepStatus::kFailed);
    if (!s.ok()) co_return s;
  }
  if (c.stopped()) co_return Status::Error("cancelled");
  std::error_code ec;
  fs::remove(failed, ec);  // built and tested: the workspace is sound
  StepRecord step(*steps_, t.deployment_id, spec_.project, store::StepName::kRelease);
  std::vector<std::string> notes;
  auto made = releases_->Create(workspace, spec_.artifacts, Now(), t.candidate.commit, &notes);
  for (const auto& note : notes) (void)AppendToFile(t.log, "anthill: release: " + note + "\n");
  if (!made.ok()) {
    co_return step.End(made.status().Prefixed("release failed").Suffixed(c.disk_full_hint()));
  }
  (void)step.End(Status::Ok());
  co_return *made;
}

}  // namespace anthill::deploy
