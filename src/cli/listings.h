// The subcommands that list what the daemon knows: status (each project's
// program), deployments (newest first) and queue; as tables, or as the API's
// JSON with --json.
// Thread: the main thread (they block until the daemon answers).
#pragma once

#include <string>

#include "config/config.h"

namespace anthill::cli {

// Each returns the exit code: 0, or ReportError()'s for a failed request.
int ShowStatus(const config::Config& cfg, bool as_json);
// `project` and `status` empty: all of them; `limit`: the newest this many.
int ShowDeployments(const config::Config& cfg, const std::string& project,
                    const std::string& status, int limit, bool as_json);
int ShowQueue(const config::Config& cfg, bool as_json);

}  // namespace anthill::cli
