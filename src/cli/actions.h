// The subcommands that ask the daemon to do something (deploy, rollback,
// notify, stop, start, cancel), and following the deployment one made until
// it ends.
// Thread: the main thread (they block until the daemon answers, or the
// deployment ends).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"

namespace anthill::cli {

// Who is acting, for the record: the login name ($USER, else the passwd
// entry, else "uid <n>").
std::string CurrentUser();

// POSTs an action and, when `wait` and it made a deployment, follows it,
// printing each step as it finishes (with `as_json`, the deployment's JSON at
// the end instead). Returns the exit code: 0 when asked (not waiting) or
// when the deployment succeeded.
int Act(const config::Config& cfg, const std::string& target, const nlohmann::json& body, bool wait,
        bool as_json);

// `anthill cancel ID`: cancels a queued or building deployment as `actor`.
int Cancel(const config::Config& cfg, int64_t id, const std::string& actor);

}  // namespace anthill::cli
