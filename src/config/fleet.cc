// The tables of a fleet: [server] roles' words, [builder] and [artifacts].
#include <regex>

#include "config/sections.h"
#include "config/validate.h"

namespace anthill::config {

std::string Roles::Describe() const {
  std::string out;
  for (auto [on, word] :
       {std::pair{orchestrator, "orchestrator"}, {builder, "builder"}, {agent, "agent"}}) {
    if (!on) continue;
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

Result<Roles> ParseRoles(const std::vector<std::string>& words) {
  if (words.empty()) {
    return Status::InvalidArgument("must name at least one of orchestrator, builder, agent");
  }
  Roles roles{false, false, false};
  for (const auto& word : words) {
    bool* role = word == "orchestrator" ? &roles.orchestrator
                 : word == "builder"    ? &roles.builder
                 : word == "agent"      ? &roles.agent
                                        : nullptr;
    if (role == nullptr) {
      return Status::InvalidArgument("'" + word + "' is not one of orchestrator, builder, agent");
    }
    if (*role) return Status::InvalidArgument("'" + word + "' is named twice");
    *role = true;
  }
  return roles;
}

namespace {

Status NotATable(const toml::node& node, const std::string& file, const std::string& name) {
  return Status::InvalidArgument(file + ":" + std::to_string(TableReader::Line(node)) + ": '" +
                                 name + "' must be a table ([" + name + "])");
}

}  // namespace

Status ReadBuilder(const toml::node& node, const std::string& file, Builder& b) {
  if (!node.is_table()) return NotATable(node, file, "builder");
  TableReader r(*node.as_table(), file, "[builder]");
  r.String("name", b.name);
  r.StringArray("labels", b.labels);
  r.Integer("slots", b.slots);
  r.String("orchestrator", b.orchestrator);
  r.RejectUnknown();
  if (!r.ok()) return r.status();
  static const std::regex kName("[A-Za-z0-9._-]*");
  if (!std::regex_match(b.name, kName)) {
    return r.Refuse("name", "'" + b.name + "' may only hold letters, digits, '.', '_' and '-'");
  }
  for (const auto& label : b.labels) {
    if (Status s = ValidateLabel(label); !s.ok()) return r.Refuse("labels", s.message());
  }
  if (b.slots < 1) return r.Refuse("slots", "must be at least 1");
  if (!b.orchestrator.empty() && b.orchestrator.rfind("http://", 0) != 0 &&
      b.orchestrator.rfind("https://", 0) != 0) {
    return r.Refuse("orchestrator",
                    "'" + b.orchestrator + "' must be the orchestrator's http:// or https:// URL");
  }
  while (!b.orchestrator.empty() && b.orchestrator.back() == '/') b.orchestrator.pop_back();
  return Status::Ok();
}

Status ReadArtifacts(const toml::node& node, const std::string& file, Artifacts& a) {
  if (!node.is_table()) return NotATable(node, file, "artifacts");
  TableReader r(*node.as_table(), file, "[artifacts]");
  r.String("store", a.store);
  r.String("endpoint", a.endpoint);
  r.String("region", a.region);
  r.RejectUnknown();
  if (!r.ok()) return r.status();
  static const std::regex kS3("s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?");
  if (a.store != "orchestrator" && !std::regex_match(a.store, kS3)) {
    return r.Refuse("store", "'" + a.store +
                                 "' is not \"orchestrator\" or \"s3://bucket/prefix\" (a bucket "
                                 "name is 3-63 lowercase letters, digits, '.' and '-')");
  }
  if (!a.endpoint.empty() && a.endpoint.rfind("http://", 0) != 0 &&
      a.endpoint.rfind("https://", 0) != 0) {
    return r.Refuse("endpoint", "'" + a.endpoint + "' must be an http:// or https:// URL");
  }
  static const std::regex kRegion("[a-z0-9-]+");
  if (!std::regex_match(a.region, kRegion)) {
    return r.Refuse("region", "'" + a.region + "' is not a region name (like \"eu-west-1\")");
  }
  if (a.store != "orchestrator" && a.endpoint.empty()) {
    a.endpoint = "https://s3." + a.region + ".amazonaws.com";
  }
  while (!a.endpoint.empty() && a.endpoint.back() == '/') a.endpoint.pop_back();
  return Status::Ok();
}

}  // namespace anthill::config
