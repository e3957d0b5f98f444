// The [server] table: its keys read, then their values checked.
#include "config/sections.h"
#include "config/validate.h"

namespace anthill::config {

Status ReadServer(const toml::node& node, const std::string& file, Server& s) {
  if (!node.is_table()) {
    return Status::InvalidArgument(file + ":" + std::to_string(TableReader::Line(node)) +
                                   ": 'server' must be a table ([server])");
  }
  TableReader r(*node.as_table(), file, "[server]");
  r.String("listen", s.listen);
  r.String("database", s.database);
  r.String("machine", s.machine);
  r.String("token", s.token);
  r.Integer("max_parallel_builds", s.max_parallel_builds);
  r.StringArray("allowed_hosts", s.allowed_hosts);
  std::vector<std::string> roles;
  r.StringArray("roles", roles);
  s.roles_line = r.Line();
  if (const toml::node* n = r.Get("roles")) s.roles_line = TableReader::Line(*n);
  std::string data_dir;
  r.String("data_dir", data_dir);
  if (!data_dir.empty()) s.data_dir = data_dir;
  r.RejectUnknown();
  if (!r.ok()) return r.status();

  if (Status listen = ValidateHostPort(s.listen); !listen.ok()) {
    return r.Refuse("listen", listen.message());
  }
  if (s.max_parallel_builds < 1) return r.Refuse("max_parallel_builds", "must be at least 1");
  if (r.Has("roles")) {
    auto parsed = ParseRoles(roles);
    if (!parsed.ok()) return r.Refuse("roles", parsed.error());
    s.roles = *parsed;
  }
  for (const auto& host : s.allowed_hosts) {
    if (Status h = ValidateHostName(host); !h.ok()) return r.Refuse("allowed_hosts", h.message());
  }
  return Status::Ok();
}

}  // namespace anthill::config
