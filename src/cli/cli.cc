#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/time.h"
#include "cli/table.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "http/client.h"

namespace anthill::cli {

namespace {

using nlohmann::json;

constexpr int kExitConfig = 2;
constexpr int kExitUnreachable = 1;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

std::string Ago(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t.ok()) return rfc3339;
  auto d = std::chrono::duration_cast<Duration>(Now() - *t);
  return FormatDuration(d) + " ago";
}

// GETs target from the daemon named in the config and parses the JSON body.
Result<json> GetJson(const config::Config& cfg, const std::string& target) {
  auto r = http::Fetch("GET", cfg.server.listen, target, "", cfg.server.token);
  if (!r.ok()) return r.status();
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded()) return Status::Error("the daemon answered with bad JSON");
  if (r->status >= 400) {
    return Status::Error("the daemon said " + std::to_string(r->status) + ": " +
                         Str(body, "error"));
  }
  return body;
}

int ShowStatus(const config::Config& cfg, bool as_json) {
  auto body = GetJson(cfg, "/api/v1/projects");
  if (!body.ok()) {
    std::cerr << "anthill: " << body.error() << "\n";
    return kExitUnreachable;
  }
  if (as_json) {
    std::cout << (*body)["projects"].dump(2) << "\n";
    return 0;
  }
  Table t({"PROJECT", "STATE", "HEALTH", "VERSION", "PID", "UP SINCE", "LAST DEPLOYMENT"});
  for (const auto& p : (*body)["projects"]) {
    std::string last = Str(p, "last_deployment_id");
    if (last == "0" || last.empty()) {
      last = "-";
    } else {
      last = "#" + last + " " + Str(p, "last_deployment_status");
    }
    std::string pid = Str(p, "pid");
    t.Add({Str(p, "name"), Str(p, "state"), Str(p, "health"),
           Str(p, "version").empty() ? "-" : Str(p, "version"), pid == "0" ? "-" : pid,
           Str(p, "started_at").empty() ? "-" : Ago(Str(p, "started_at")), last});
    if (!Str(p, "last_error").empty()) t.AddNote("error: " + Str(p, "last_error"));
  }
  t.Print(std::cout);
  return 0;
}

int ShowDeployments(const config::Config& cfg, const std::string& project, const std::string& status,
                int limit, bool as_json) {
  std::string target = "/api/v1/deployments?limit=" + std::to_string(limit);
  // Project names are [A-Za-z0-9._-]+ and statuses are words: nothing to escape.
  if (!project.empty()) target += "&project=" + project;
  if (!status.empty()) target += "&status=" + status;
  auto body = GetJson(cfg, target);
  if (!body.ok()) {
    std::cerr << "anthill: " << body.error() << "\n";
    return kExitUnreachable;
  }
  if (as_json) {
    std::cout << (*body)["deployments"].dump(2) << "\n";
    return 0;
  }
  Table t({"ID", "PROJECT", "STATUS", "FROM", "TO", "TRIGGER", "STARTED", "DURATION", "STEPS"});
  for (const auto& d : (*body)["deployments"]) {
    std::string steps;
    for (const auto& s : d["steps"]) {
      if (!steps.empty()) steps += " ";
      std::string st = Str(s, "status");
      steps += Str(s, "name") + (st == "succeeded" ? "" : "(" + st + ")");
    }
    std::string duration = "-";
    if (d.contains("duration_ms") && d["duration_ms"].is_number()) {
      duration = FormatDuration(Duration(d["duration_ms"].get<int64_t>()));
    }
    t.Add({Str(d, "id"), Str(d, "project"), Str(d, "status"),
           Str(d, "from_version").empty() ? "-" : Str(d, "from_version"), Str(d, "to_version"),
           Str(d, "trigger"), Ago(Str(d, "started_at")), duration, steps});
    if (!Str(d, "error").empty()) t.AddNote("error: " + Str(d, "error"));
  }
  t.Print(std::cout);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"Anthill: from git push to the new version running, with a record of every step.",
               "anthill"};
  app.require_subcommand(1);
  std::string config_path = "anthill.toml";
  bool as_json = false;

  auto add_config = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", config_path, "config file")->capture_default_str();
  };
  auto* serve = app.add_subcommand("serve", "watch, build, deploy and serve the API");
  add_config(serve);
  auto* check = app.add_subcommand("check", "validate the config file and exit");
  add_config(check);
  auto* status = app.add_subcommand("status", "each project's running version and state");
  add_config(status);
  status->add_flag("--json", as_json, "print JSON");
  std::string project, status_filter;
  int limit = 20;
  auto* deployments = app.add_subcommand("deployments", "recent deployments, newest first");
  add_config(deployments);
  deployments->add_option("project", project, "only this project");
  deployments->add_option("--status", status_filter, "only this status (e.g. failed)");
  deployments->add_option("--limit", limit, "how many")->capture_default_str()->check(
      CLI::Range(1, 1000));
  deployments->add_flag("--json", as_json, "print JSON");
  auto* version = app.add_subcommand("version", "print anthill's version");
  version->add_flag("--json", as_json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (version->parsed()) {
    if (as_json) {
      std::cout << json{{"version", ANTHILL_VERSION}}.dump() << "\n";
    } else {
      std::cout << "anthill " << ANTHILL_VERSION << "\n";
    }
    return 0;
  }

  auto cfg = config::Load(config_path);
  if (!cfg.ok()) {
    std::cerr << "anthill: " << cfg.error() << "\n";
    return kExitConfig;
  }
  if (check->parsed()) {
    std::cout << config_path << ": ok, " << cfg->projects.size() << " project(s)";
    for (size_t i = 0; i < cfg->projects.size(); ++i) {
      std::cout << (i == 0 ? ": " : ", ") << cfg->projects[i].name;
    }
    std::cout << "\n";
    return 0;
  }
  if (serve->parsed()) return daemon::Serve(*cfg);
  if (status->parsed()) return ShowStatus(*cfg, as_json);
  if (deployments->parsed()) return ShowDeployments(*cfg, project, status_filter, limit, as_json);
  return 0;
}

}  // namespace anthill::cli
