// What `anthill agent` runs with: its command line over the [agent] section
// of the file given with -c (when one is), and its token from
// ANTHILL_AGENT_TOKEN or the section's token_file. Kept apart from running
// the agent so the merge can be tested.
// Thread: any (reads the token file).
#pragma once

#include "agent/agent.h"
#include "base/status.h"
#include "cli/commands.h"
#include "config/config.h"

namespace anthill::cli {

// The settings: each option given on the command line wins over the
// section's key (--env per KEY); the machine name defaults to the name the
// token starts with ("web-1" of "web-1.<hex>"). `cfg` is null without -c.
// `env_token` is ANTHILL_AGENT_TOKEN (null or empty: unset), which wins over
// token_file. Errors: a config without [agent] (file and hint), a token file
// that cannot be read, is empty, or that every user may read (file:line:
// key), no token at all. The rest is agent::CheckSettings's to judge.
Result<agent::AgentSettings> AgentSettingsOf(const Options& o, const config::Config* cfg,
                                             const char* env_token);

}  // namespace anthill::cli
