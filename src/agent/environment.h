// What an agent's program runs with, from the desired program (the
// project's config as the orchestrator sent it) and the agent's own
// machine-specific values (`--env KEY=VALUE`): the environment, and the
// supervisor's spec with the agent's own paths.
//
// ${KEY} in a project's env values, its health check's target and its
// `listen` addresses is the agent's value of KEY (a name the agent was not
// given stays as written, so that the failure it causes names it).
//
// Thread: pure functions.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "build/environment.h"
#include "deploy/agent_protocol.h"
#include "supervise/spec.h"

namespace anthill::agent {

using EnvMap = std::map<std::string, std::string>;

// "http://127.0.0.1:${PORT}/" with PORT=8081 -> "http://127.0.0.1:8081/".
std::string ExpandVars(std::string_view text, const EnvMap& vars);

// The program's environment, each later source winning over the earlier:
// `base` (the agent's own environment, less its ANTHILL_* settings, the
// token among them, and the socket-activation variables), the agent's
// values, the project's env ("KEY=value", expanded), then ANTHILL_*, which
// always say the truth. Sorted by name.
std::vector<std::string> ProgramEnvironment(const std::vector<std::string>& base,
                                            const EnvMap& agent_env,
                                            const std::vector<std::string>& project_env,
                                            const build::Identity& id);

// The supervisor's spec of `project`'s program on this agent: releases in
// data_dir/projects/<project>/releases, its log data_dir/logs/app/<project>.log,
// its READY=1 socket data_dir/run/<project>.notify.
supervise::ProgramSpec SpecOf(const std::string& project, const deploy::AgentProgram& program,
                              const std::filesystem::path& data_dir, const EnvMap& agent_env);

// True for a name that may be a file name under data_dir ([A-Za-z0-9._-]+,
// not "." or ".."): projects and releases come from the network.
bool SafeName(std::string_view name);

}  // namespace anthill::agent
