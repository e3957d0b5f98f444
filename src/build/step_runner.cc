#include "build/step_runner.h"

#include <fstream>

namespace anthill::build {

boost::asio::awaitable<Status> RunShellStep(const ShellStep& step, const std::string& log_shown,
                                            std::shared_ptr<os::CommandStopper> stopper) {
  {
    std::ofstream log(step.log, std::ios::app | std::ios::binary);
    log << "==> " << step.name << ": " << step.command << "\n";
  }
  os::SpawnOptions opts;
  opts.argv = {"/bin/sh", "-c", step.command};
  opts.cwd = step.workspace;
  opts.env = step.env;
  opts.output = step.log;
  // Its own process group, so a timeout or a cancel ends the whole build tree
  // (compilers, test runners), not just the shell.
  opts.new_session = true;
  auto result = co_await os::RunCommand(opts, step.timeout, Duration(5000), stopper, step.on_started);
  std::ofstream log(step.log, std::ios::app | std::ios::binary);
  if (!result.ok()) {
    log << "==> " << step.name << " could not start: " << result.error() << "\n";
    co_return Status::Error(step.name + " could not start: " + result.error());
  }
  log << "==> " << step.name << ": " << result->Describe() << " after "
      << FormatDuration(result->elapsed) << "\n";
  if (result->status.success() && !result->timed_out && !result->stopped) co_return Status::Ok();
  std::string what = result->timed_out ? "timed out" : result->stopped ? "stopped" : "failed";
  std::string detail = result->timed_out || result->stopped ? "" : " (" + result->Describe() + ")";
  co_return Status::Error(step.name + " " + what + detail + " after " +
                          FormatDuration(result->elapsed) + "; see " + log_shown);
}

}  // namespace anthill::build
