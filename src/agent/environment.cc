#include "agent/environment.h"

#include <cctype>

namespace anthill::agent {

namespace fs = std::filesystem;

std::string ExpandVars(std::string_view text, const EnvMap& vars) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("${", i);
    if (open == std::string_view::npos) break;
    const size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    const std::string key(text.substr(open + 2, close - open - 2));
    auto it = vars.find(key);
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(text.substr(open, close + 1 - open));
    }
    i = close + 1;
  }
  out.append(text.substr(i));
  return out;
}

std::vector<std::string> ProgramEnvironment(const std::vector<std::string>& base,
                                            const EnvMap& agent_env,
                                            const std::vector<std::string>& project_env,
                                            const build::Identity& id) {
  // The agent's values, then the project's (expanded), over the agent's own
  // environment: the single machine's rule (build::ProjectEnvironment).
  build::EnvVars vars = agent_env;
  for (const std::string& kv : project_env) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    vars[kv.substr(0, eq)] = ExpandVars(std::string_view(kv).substr(eq + 1), agent_env);
  }
  return build::ProjectEnvironment(base, vars, id);
}

supervise::ProgramSpec SpecOf(const std::string& project, const deploy::AgentProgram& program,
                              const fs::path& data_dir, const EnvMap& agent_env) {
  supervise::ProgramSpec s;
  s.project = project;
  s.run = program.run;
  s.stop_signal = program.stop_signal;
  s.stop_timeout = program.stop_timeout;
  s.restart = program.restart;
  s.health = program.health;
  s.health.target = ExpandVars(program.health.target, agent_env);
  for (const std::string& l : program.listen) s.listen.push_back(ExpandVars(l, agent_env));
  s.ready_notify = program.ready_notify;
  s.app_log = data_dir / "logs" / "app" / (project + ".log");
  s.log_max_size = program.log_max_size;
  s.project_dir = data_dir / "projects" / project;
  s.releases_dir = s.project_dir / "releases";
  s.notify_socket = data_dir / "run" / (project + ".notify");
  s.shared = program.shared;
  return s;
}

bool SafeName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace anthill::agent
