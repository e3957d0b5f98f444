// Running a command to completion from a coroutine, with a time limit.
// Thread: the io_context thread that awaits it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>

#include "base/status.h"
#include "base/time.h"
#include "os/process.h"

namespace anthill::os {

// Lets a caller stop a running command from elsewhere (a cancelled
// deployment, Anthill shutting down). Safe to call before, during or after.
class CommandStopper {
 public:
  void Stop();
  bool stopped() const { return stopped_; }

 private:
  friend class CommandRun;
  bool stopped_ = false;
  // Set by the running command: SIGTERM to its group now, SIGKILL after grace.
  std::function<void()> stop_running_;
};

struct CommandResult {
  ExitStatus status;
  bool timed_out = false;  // killed because it ran past its time limit
  bool stopped = false;    // killed through a CommandStopper
  Duration elapsed{0};
  // "exit 2", "timed out after 30 s", "stopped"
  std::string Describe() const;
  // What kind of end it was: kOk when it exited 0 in time and unstopped;
  // kTimedOut when it ran past its limit; kCancelled when stopped through a
  // CommandStopper; kInternal when it ended otherwise (non-zero exit, a
  // signal from elsewhere). Callers build their own message and give it this.
  StatusCode code() const;
};

// Spawns options and waits for the process to exit. With timeout > 0, the
// process group gets SIGTERM when the time is up and SIGKILL `kill_grace`
// later: a build that hangs is ended, grandchildren included. Spawn errors
// come back as a failed Result; a command that ran and failed is a CommandResult.
// `on_started` (if set) hears the child's pid (its process group, with
// new_session) as soon as it runs.
boost::asio::awaitable<Result<CommandResult>> RunCommand(
    SpawnOptions options, Duration timeout, Duration kill_grace = Duration(5000),
    std::shared_ptr<CommandStopper> stopper = nullptr,
    std::function<void(pid_t)> on_started = nullptr);

}  // namespace anthill::os
