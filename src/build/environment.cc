#include "build/environment.h"

#include <map>

#include "os/process.h"

namespace anthill::build {

std::vector<std::string> ProjectEnvironment(const std::vector<std::string>& base,
                                            const EnvVars& project_env, const Identity& id) {
  std::map<std::string, std::string> vars;
  for (const auto& kv : base) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string key = kv.substr(0, eq);
    if (key.rfind("ANTHILL_", 0) == 0 || key == "LISTEN_FDS" || key == "LISTEN_PID" ||
        key == "LISTEN_FDNAMES" || key == "NOTIFY_SOCKET") {
      continue;  // never leak Anthill's own settings (the token!) or its socket protocol
    }
    vars[key] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : project_env) vars[k] = v;
  vars["ANTHILL_PROJECT"] = id.project;
  vars["ANTHILL_COMMIT"] = id.commit;
  vars["ANTHILL_VERSION"] = id.version;
  vars["ANTHILL_REF"] = id.ref;
  vars["ANTHILL_MACHINE"] = id.machine;
  vars["ANTHILL_RELEASE_DIR"] = id.release_dir;
  std::vector<std::string> env;
  env.reserve(vars.size());
  for (const auto& [k, v] : vars) env.push_back(k + "=" + v);
  return env;
}

std::vector<std::string> ProjectEnvironment(const EnvVars& project_env, const Identity& id) {
  return ProjectEnvironment(os::CurrentEnvironment(), project_env, id);
}

}  // namespace anthill::build
