#include "cli/agent_settings.h"

#include <filesystem>

#include "base/files.h"

namespace anthill::cli {

namespace fs = std::filesystem;

namespace {

// The token in [agent] token_file: the file's text without surrounding
// whitespace. A token every user could read is refused, as ssh refuses such
// a key: anyone on the machine could act as it.
Result<std::string> ReadTokenFile(const config::Config& cfg) {
  const config::Agent& a = cfg.agent;
  const std::string where = cfg.file.string() + ":" + std::to_string(a.token_file_line) +
                            ": key 'token_file' in [agent]: ";
  std::error_code ec;
  const fs::file_status st = fs::status(a.token_file, ec);
  if (ec) return Status::InvalidArgument(where + a.token_file.string() + ": " + ec.message());
  if ((st.permissions() & fs::perms::others_read) != fs::perms::none) {
    return Status::InvalidArgument(where + a.token_file.string() +
                                   " may be read by every user: chmod o-r it (600 is best)");
  }
  auto text = ReadFile(a.token_file);
  if (!text.ok()) return Status::InvalidArgument(where + text.error());
  const size_t begin = text->find_first_not_of(" \t\r\n");
  const size_t end = text->find_last_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    return Status::InvalidArgument(where + a.token_file.string() + " is empty");
  }
  return text->substr(begin, end - begin + 1);
}

}  // namespace

Result<agent::AgentSettings> AgentSettingsOf(const Options& o, const config::Config* cfg,
                                             const char* env_token) {
  agent::AgentSettings s;
  if (cfg != nullptr) {
    const config::Agent& a = cfg->agent;
    if (a.line == 0) {
      return Status::InvalidArgument(cfg->file.string() +
                                     ": no [agent] section (servers, machine, data_dir, ...) for "
                                     "`anthill agent -c`");
    }
    s.servers = a.servers;
    s.machine = a.machine;
    s.labels = a.labels;
    s.data_dir = a.data_dir;
    s.env = a.env;
  }
  if (!o.servers.empty()) s.servers = o.servers;
  if (!o.machine.empty()) s.machine = o.machine;
  if (!o.labels.empty()) s.labels = o.labels;
  if (!o.data_dir.empty()) s.data_dir = o.data_dir;
  for (const std::string& kv : o.agent_env) {
    const size_t eq = kv.find('=');
    s.env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }

  if (env_token != nullptr && *env_token != '\0') {
    s.token = env_token;
  } else if (cfg != nullptr && !cfg->agent.token_file.empty()) {
    auto token = ReadTokenFile(*cfg);
    if (!token.ok()) return token.status();
    s.token = *token;
  } else {
    return Status::InvalidArgument(
        "no agent token: set ANTHILL_AGENT_TOKEN (or [agent] token_file) to the token `anthill "
        "agents add " +
        (s.machine.empty() ? std::string("NAME") : s.machine) + "` printed on the orchestrator");
  }
  if (s.machine.empty()) s.machine = s.token.substr(0, s.token.find('.'));
  return s;
}

}  // namespace anthill::cli
