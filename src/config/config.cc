// anthill.toml -> Config. Every error names the file, the line and the key.
// The tables are read in server.cc, fleet.cc, agent.cc, project.cc, health.cc
// and rollout.cc (sections.h),
// their keys by TableReader (table_reader.h).
#include "config/config.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <map>

#include "base/files.h"
#include "config/sections.h"
#include "config/toml_guard.h"

namespace anthill::config {

namespace fs = std::filesystem;

const Project* Config::FindProject(std::string_view name) const {
  for (const auto& p : projects) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Result<Config> Parse(std::string_view text, const fs::path& file) {
  const std::string name = file.string();
  Config cfg;
  cfg.file = file;
  // Inputs that take toml++ 3.3.0 to undefined behaviour never reach it.
  if (Status guard = GuardToml(text, name); !guard.ok()) return guard;
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": " +
                                   std::string(e.description()));
  }
  fs::path base = file.has_parent_path() ? fs::absolute(file).parent_path() : fs::current_path();
  cfg.dir = base;

  TableReader top(root, name, "the top level");
  if (const toml::node* server = top.Get("server")) {
    if (Status s = ReadServer(*server, name, cfg.server); !s.ok()) return s;
  }
  if (const toml::node* builder = top.Get("builder")) {
    if (Status s = ReadBuilder(*builder, name, cfg.builder); !s.ok()) return s;
  }
  if (const toml::node* artifacts = top.Get("artifacts")) {
    if (Status s = ReadArtifacts(*artifacts, name, cfg.artifacts); !s.ok()) return s;
  }
  if (const toml::node* agent = top.Get("agent")) {
    if (Status s = ReadAgent(*agent, name, base, cfg.agent); !s.ok()) return s;
  }
  std::map<std::string, int> names;  // project name -> line of its [[project]]
  if (const toml::node* projects = top.Get("project")) {
    if (!projects->is_array_of_tables()) {
      return Status::InvalidArgument(name + ":" + std::to_string(top.Line(*projects)) +
                                     ": 'project' must be written as [[project]] tables");
    }
    for (const auto& item : *projects->as_array()) {
      Project p;
      if (Status s = ReadProject(*item.as_table(), name, base, names, p); !s.ok()) return s;
      cfg.projects.push_back(std::move(p));
    }
  }
  top.RejectUnknown();
  if (!top.ok()) return top.status();

  if (cfg.server.data_dir.is_relative()) {
    cfg.server.data_dir = (base / cfg.server.data_dir).lexically_normal();
  }
  if (cfg.server.machine.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    cfg.server.machine = host;
  }
  if (cfg.builder.name.empty()) cfg.builder.name = cfg.server.machine;
  if (const char* token = getenv("ANTHILL_TOKEN"); token && *token) cfg.server.token = token;
  return cfg;
}

Result<Config> Load(const fs::path& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  return Parse(*text, file);
}

}  // namespace anthill::config
