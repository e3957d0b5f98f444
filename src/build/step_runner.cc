#include "build/step_runner.h"

#include "base/files.h"

namespace anthill::build {

boost::asio::awaitable<Status> RunShellStep(const ShellStep& step, const std::string& log_shown,
                                            std::shared_ptr<os::CommandStopper> stopper) {
  // The log is the step's record for people; a line that cannot be written
  // there does not fail the build.
  (void)AppendToFile(step.log, "==> " + step.name + ": " + step.command + "\n");
  os::SpawnOptions opts;
  opts.argv = {"/bin/sh", "-c", step.command};
  opts.cwd = step.workspace;
  opts.env = step.env;
  opts.output = step.log;
  // Its own process group, so a timeout or a cancel ends the whole build tree
  // (compilers, test runners), not just the shell.
  opts.new_session = true;
  const Duration kill_grace(5000);
  auto result = co_await os::RunCommand(opts, step.timeout, kill_grace, stopper, step.on_started);
  if (!result.ok()) {
    (void)AppendToFile(step.log, "==> " + step.name + " could not start: " + result.error() + "\n");
    co_return result.status().Prefixed(step.name + " could not start");
  }
  (void)AppendToFile(step.log, "==> " + step.name + ": " + result->Describe() + " after " +
                                   FormatDuration(result->elapsed) + "\n");
  const StatusCode code = result->code();
  if (code == StatusCode::kOk) co_return Status::Ok();
  std::string what = code == StatusCode::kTimedOut    ? "timed out"
                     : code == StatusCode::kCancelled ? "stopped"
                                                      : "failed";
  std::string detail = code == StatusCode::kInternal ? " (" + result->Describe() + ")" : "";
  co_return Status::Error(code, step.name + " " + what + detail + " after " +
                                    FormatDuration(result->elapsed) + "; see " + log_shown);
}

}  // namespace anthill::build
