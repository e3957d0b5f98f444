// `anthill logs`: a project's program log, or a deployment's build log, as
// the daemon serves them; with --follow, what is appended too.
// Thread: the main thread (blocks; following ends only when interrupted).
#pragma once

#include <string>

#include "config/config.h"

namespace anthill::cli {

// Prints the log the daemon serves at `target` (?offset=&bytes= aware); with
// follow, keeps asking for what was appended until interrupted, starting over
// when the log was rotated. Returns the exit code.
int ShowLog(const config::Config& cfg, const std::string& target, bool follow);

// `anthill logs PROJECT --build [ID]`: deployment id's fetch/build/test log,
// or the project's latest deployment's when id is empty. The pipeline's
// failure messages name this command with the id, so it must work as written.
int ShowBuildLog(const config::Config& cfg, const std::string& project, const std::string& id,
                 bool follow);

}  // namespace anthill::cli
