// How to run, check, stop and restart one project's program on a machine:
// plain values, filled from the config by deploy/ (or, in a fleet, sent to
// an agent), so that supervise/ knows nothing of TOML or of where the
// settings came from.
// Thread: plain values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/time.h"
#include "config/config.h"

namespace anthill::supervise {

struct ProgramSpec {
  std::string project;   // name: ANTHILL_PROJECT, logs, the orphan sweep
  std::string run;       // the command (see RunArgv)
  int stop_signal = 15;  // to the process group, then SIGKILL after stop_timeout
  Duration stop_timeout{10000};
  using Restart = config::Project::Restart;  // like health: the config's own plain value
  Restart restart = Restart::kOnFailure;     // a program that exits on its own
  config::HealthCheck health;                // how a new or running program is probed
  std::vector<std::string> listen;           // sockets Anthill holds and passes (zero-downtime)
  bool ready_notify = false;                 // ready = "notify": wait for sd_notify READY=1
  std::filesystem::path app_log;             // logs/app/<project>.log, appended by the program
  int64_t log_max_size = 50LL << 20;         // rotated past this
  std::filesystem::path releases_dir;        // programs run in a dir under it
  std::filesystem::path project_dir;         // builds run under it (workspace.dirty names one)
  std::filesystem::path notify_socket;       // where the READY=1 socket is made
  std::vector<std::string> shared;           // linked into a release from project_dir/shared
};

}  // namespace anthill::supervise
