// [agent]: the settings of `anthill agent -c FILE`, checked here so that a
// wrong one names the file, the line and the key.
#include <regex>

#include "config/sections.h"
#include "config/validate.h"

namespace anthill::config {

Status ReadAgent(const toml::node& node, const std::string& file, const std::filesystem::path& base,
                 Agent& a) {
  if (!node.is_table()) {
    return Status::InvalidArgument(file + ":" + std::to_string(TableReader::Line(node)) +
                                   ": 'agent' must be a table ([agent])");
  }
  TableReader r(*node.as_table(), file, "[agent]");
  a.line = r.Line();
  r.StringArray("servers", a.servers);
  r.String("machine", a.machine);
  r.StringArray("labels", a.labels);
  std::string data_dir;
  r.String("data_dir", data_dir);
  std::string token_file;
  r.String("token_file", token_file);
  if (const toml::node* n = r.Get("token_file")) a.token_file_line = TableReader::Line(*n);
  if (const toml::node* env = r.Get("env")) ReadEnv(r, *env, a.env);
  r.RejectUnknown();
  if (!r.ok()) return r.status();

  for (std::string& server : a.servers) {
    // The agent speaks plain HTTP (README, "A fleet": behind a TLS proxy or
    // on a private network); an https:// URL would fail at the first poll.
    static constexpr std::string_view kScheme = "http://";
    while (server.size() > kScheme.size() && server.back() == '/') server.pop_back();
    const bool http = server.rfind(kScheme, 0) == 0;
    if (!http || !ValidateHostPort(server.substr(kScheme.size())).ok()) {
      return r.Refuse("servers", "'" + server + "' is not an orchestrator's http://host:port");
    }
  }
  static const std::regex kName("[A-Za-z0-9._-]*");
  if (!std::regex_match(a.machine, kName)) {
    return r.Refuse("machine",
                    "'" + a.machine + "' may only hold letters, digits, '.', '_' and '-'");
  }
  for (const auto& label : a.labels) {
    if (Status s = ValidateLabel(label); !s.ok()) return r.Refuse("labels", s.message());
  }
  if (!data_dir.empty()) a.data_dir = (base / data_dir).lexically_normal();
  if (!token_file.empty()) a.token_file = (base / token_file).lexically_normal();
  return Status::Ok();
}

}  // namespace anthill::config
