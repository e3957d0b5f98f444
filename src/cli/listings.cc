#include "cli/listings.h"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/time.h"
#include "cli/daemon_client.h"
#include "cli/table.h"

namespace anthill::cli {

namespace {

using nlohmann::json;

}  // namespace

int ShowStatus(const config::Config& cfg, bool as_json) {
  auto body = GetJson(cfg, "/api/v1/projects");
  if (!body.ok()) return ReportError(body.status());
  if (as_json) {
    std::cout << Pretty((*body)["projects"]) << "\n";
    return 0;
  }
  Table t(
      {"PROJECT", "STATE", "HEALTH", "VERSION", "PID", "UP SINCE", "RESTARTS", "LAST DEPLOYMENT"});
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
           Str(p, "started_at").empty() ? "-" : Ago(Str(p, "started_at")), Str(p, "restarts"),
           last});
    if (!Str(p, "last_error").empty()) t.AddNote("error: " + Str(p, "last_error"));
    if (!Str(p, "last_exit").empty()) t.AddNote("last exit: " + Str(p, "last_exit"));
    if (Str(p, "held") == "true")
      t.AddNote("stopped by hand: `anthill start " + Str(p, "name") + "`");
  }
  t.Print(std::cout);
  return 0;
}

int ShowDeployments(const config::Config& cfg, const std::string& project,
                    const std::string& status, int limit, bool as_json) {
  std::string target = "/api/v1/deployments?limit=" + std::to_string(limit);
  // Project names are [A-Za-z0-9._-]+ and statuses are words: nothing to escape.
  if (!project.empty()) target += "&project=" + project;
  if (!status.empty()) target += "&status=" + status;
  auto body = GetJson(cfg, target);
  if (!body.ok()) return ReportError(body.status());
  if (as_json) {
    std::cout << Pretty((*body)["deployments"]) << "\n";
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

int ShowQueue(const config::Config& cfg, bool as_json) {
  auto body = GetJson(cfg, "/api/v1/queue");
  if (!body.ok()) return ReportError(body.status());
  if (as_json) {
    std::cout << Pretty(*body) << "\n";
    return 0;
  }
  Table t({"PROJECT", "RUNNING", "PHASE", "WAITING", "WHY"});
  for (const auto& q : (*body)["projects"]) {
    auto label = [](const json& d) {
      if (d.is_null()) return std::string("-");
      std::string to = Str(d, "to_version").empty() ? Str(d, "ref") : Str(d, "to_version");
      return "#" + Str(d, "id") + " " + (to.empty() ? "(rule)" : to);
    };
    t.Add({Str(q, "project"), label(q["running"]),
           q["running"].is_null() ? "-" : Str(q["running"], "phase"), label(q["waiting"]),
           q["waiting"].is_null() ? "-" : Str(q["waiting"], "reason")});
  }
  t.Print(std::cout);
  if (!body->contains("build_jobs")) {
    std::cout << "builds running: " << Str(*body, "builds_running") << " of "
              << Str(*body, "max_parallel_builds") << "\n";
    return 0;
  }
  // A fleet: builds are the builders', from the queue in PostgreSQL.
  Table jobs({"JOB", "DEPLOYMENT", "PROJECT", "VERSION", "STATUS", "BUILDER", "WHY"});
  for (const auto& j : (*body)["build_jobs"]) {
    const std::string builder = Str(j, "builder");
    jobs.Add({"#" + Str(j, "id"), "#" + Str(j, "deployment_id"), Str(j, "project"),
              Str(j, "version"), Str(j, "status") + " (attempt " + Str(j, "attempt") + ")",
              builder.empty() ? "-" : builder,
              Str(j, "waiting_for").empty() ? "-" : Str(j, "waiting_for")});
  }
  std::cout << "\nbuild jobs:\n";
  jobs.Print(std::cout);
  return 0;
}

}  // namespace anthill::cli
