// The subcommands about a fleet's machines: `anthill agents` (list, add
// NAME, revoke NAME), `anthill machines` (what each agent runs), and
// `anthill agent` (this machine's agent, agent/agent.h).
// Thread: the main thread (requests block until the daemon answers).
#pragma once

#include <string>

#include "cli/commands.h"
#include "config/config.h"

namespace anthill::cli {

// Each returns the exit code: 0, or ReportError()'s for a failed request.
int ShowAgents(const config::Config& cfg, bool as_json);
// Prints the new token on the last line, alone: `anthill agents add web-1 | tail -1`.
int AddAgent(const config::Config& cfg, const std::string& name, bool as_json);
int RevokeAgent(const config::Config& cfg, const std::string& name);
int ShowMachines(const config::Config& cfg, bool as_json);
// Runs the agent until SIGTERM or SIGINT; the token from ANTHILL_AGENT_TOKEN.
int RunAgentCommand(const Options& o);

}  // namespace anthill::cli
