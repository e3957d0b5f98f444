// The environment given to build, test and run: Anthill's own environment,
// the ANTHILL_* variables of ARCHITECTURE.md, then the project's `env`
// (plain values: build/ knows nothing of the config file).
// Thread: plain values.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace anthill::build {

struct Identity {
  std::string project;
  std::string commit;   // 40 hex
  std::string version;  // label
  std::string ref;      // "refs/heads/main"
  std::string machine;
  std::string release_dir;  // absolute; empty before the release exists
};

// base: usually os::CurrentEnvironment(). Later entries win, so the
// project's `env` can override anything but the ANTHILL_* variables, which
// always describe the deployment truthfully.
using EnvVars = std::map<std::string, std::string>;
std::vector<std::string> ProjectEnvironment(const std::vector<std::string>& base,
                                            const EnvVars& project_env, const Identity& id);
// The same over Anthill's own environment (os::CurrentEnvironment()).
std::vector<std::string> ProjectEnvironment(const EnvVars& project_env, const Identity& id);

}  // namespace anthill::build
