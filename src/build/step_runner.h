// Runs a project's build and test commands: `/bin/sh -c <command>` in the
// workspace, with the project environment, output appended to the
// deployment's build log, ended after build_timeout.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "os/command.h"

namespace anthill::build {

// Stops the commands of a step (a cancel, a shutdown).
using CommandStopper = os::CommandStopper;

struct ShellStep {
  std::string name;     // "build", "test": used in messages and the log
  std::string command;  // shell text from the project's config (trusted: the operator wrote it)
  std::filesystem::path workspace;
  std::vector<std::string> env;
  std::filesystem::path log;  // appended
  Duration timeout{0};        // 0: none
  // Hears the step's process group once it runs (e.g. to write it down, so
  // that after a crash only that group is taken for a leftover).
  std::function<void(pid_t)> on_started;
};

// Ok when the command exits 0. Otherwise the error reads
// "build failed (exit 2) after 4.1 s; see logs/build/42.log" (or "timed out
// after 30 s", or "stopped"). `log_shown` is how the log is named in it.
// Its kind: kTimedOut when build_timeout ended it, kCancelled when `stopper`
// did, kInternal when it failed on its own; a command that could not start
// keeps the kind os::Spawn gave (kNotFound for a missing workspace).
boost::asio::awaitable<Status> RunShellStep(const ShellStep& step, const std::string& log_shown,
                                            std::shared_ptr<os::CommandStopper> stopper = nullptr);

}  // namespace anthill::build
