#include "cli/fleet_commands.h"

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/agent.h"
#include "base/time.h"
#include "cli/agent_settings.h"
#include "cli/daemon_client.h"
#include "cli/exit_codes.h"
#include "cli/table.h"

namespace anthill::cli {

namespace {

using nlohmann::json;

std::string Joined(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    if (item.is_string()) out += (out.empty() ? "" : ",") + item.get<std::string>();
  }
  return out;
}

}  // namespace

int ShowAgents(const config::Config& cfg, bool as_json) {
  auto body = GetJson(cfg, "/api/v1/agents");
  if (!body.ok()) return ReportError(body.status());
  if (as_json) {
    std::cout << Pretty((*body)["machines"]) << "\n";
    return 0;
  }
  Table t({"AGENT", "LABELS", "LAST SEEN", "STATE"});
  for (const auto& m : (*body)["machines"]) {
    t.Add({Str(m, "name"), Joined(m["labels"]).empty() ? "-" : Joined(m["labels"]),
           Ago(Str(m, "last_seen_at")), Str(m, "revoked_at").empty() ? "active" : "revoked"});
  }
  t.Print(std::cout);
  return 0;
}

int AddAgent(const config::Config& cfg, const std::string& name, bool as_json) {
  auto body = SendJson(cfg, "POST", "/api/v1/agents", json{{"name", name}});
  if (!body.ok()) return ReportError(body.status());
  if (as_json) {
    std::cout << Pretty(*body) << "\n";
    return 0;
  }
  std::cout << "agent " << name << " registered. Start it with its token (shown once):\n"
            << "  ANTHILL_AGENT_TOKEN=<token> anthill agent --server http://" << cfg.server.listen
            << " --machine " << name << " --data-dir /var/lib/anthill\n"
            << Str(*body, "token") << "\n";
  return 0;
}

int RevokeAgent(const config::Config& cfg, const std::string& name) {
  // Machine names are [A-Za-z0-9._-]+: safe in a path as they are (the
  // daemon refuses others).
  auto body = SendJson(cfg, "DELETE", "/api/v1/agents/" + name, nullptr);
  if (!body.ok()) return ReportError(body.status());
  std::cout << Str(*body, "message") << "\n";
  return 0;
}

int ShowMachines(const config::Config& cfg, bool as_json) {
  auto body = GetJson(cfg, "/api/v1/machines");
  if (!body.ok()) return ReportError(body.status());
  if (as_json) {
    std::cout << Pretty((*body)["machines"]) << "\n";
    return 0;
  }
  Table t({"MACHINE", "LABELS", "LAST SEEN", "PROJECT", "VERSION", "HEALTH", "PID", "DESIRED"});
  for (const auto& m : (*body)["machines"]) {
    const std::string labels = Joined(m["labels"]).empty() ? "-" : Joined(m["labels"]);
    const std::string seen = Str(m, "revoked_at").empty() ? Ago(Str(m, "last_seen_at")) : "revoked";
    if (!m["projects"].is_array() || m["projects"].empty()) {
      t.Add({Str(m, "name"), labels, seen, "-", "-", "-", "-", "-"});
      continue;
    }
    for (const auto& p : m["projects"]) {
      const std::string pid = Str(p, "pid");
      t.Add({Str(m, "name"), labels, seen, Str(p, "project"),
             Str(p, "version").empty() ? "-" : Str(p, "version"),
             Str(p, "health").empty() ? "-" : Str(p, "health"),
             pid == "0" || pid.empty() ? "-" : pid,
             Str(p, "desired_version").empty() ? "-" : Str(p, "desired_version")});
      if (p.contains("last_run") && Str(p["last_run"], "status") == "failed") {
        t.AddNote("deployment " + Str(p["last_run"], "deployment") +
                  " failed here: " + Str(p["last_run"], "error"));
      }
    }
  }
  t.Print(std::cout);
  return 0;
}

int RunAgentCommand(const Options& o) {
  std::optional<config::Config> cfg;
  if (!o.agent_config.empty()) {
    auto loaded = config::Load(o.agent_config);
    if (!loaded.ok()) {
      std::cerr << "anthill: " << loaded.error() << "\n";
      return kExitConfig;
    }
    cfg = std::move(loaded.value());
  }
  auto settings = AgentSettingsOf(o, cfg ? &*cfg : nullptr, std::getenv("ANTHILL_AGENT_TOKEN"));
  if (!settings.ok()) {
    std::cerr << "anthill: " << settings.error() << "\n";
    return kExitUsage;
  }
  return agent::RunAgent(*settings);
}

}  // namespace anthill::cli
