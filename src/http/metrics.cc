#include "http/metrics.h"

#include <string>

namespace anthill::http {

namespace {

// A label value, escaped as the text format wants (backslash, quote, newline).
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Help(std::string& m, const char* name, const char* type, const char* text) {
  m += std::string("# HELP ") + name + " " + text + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

boost::asio::awaitable<Response> Metrics(store::AsyncRecordStore* record,
                                         const deploy::Controller* controller) {
  std::string m;
  Help(m, "anthill_up", "gauge", "1 while Anthill serves.");
  m += "anthill_up 1\n";
  Help(m, "anthill_deployments_total", "counter", "Deployments recorded, by project and status.");
  if (auto counts = co_await record->CountDeployments(); counts.ok()) {
    for (const auto& c : *counts) {
      m += "anthill_deployments_total{project=\"" + Label(c.project) + "\",status=\"" +
           std::string(store::ToString(c.status)) + "\"} " + std::to_string(c.count) + "\n";
    }
  }
  const auto projects = controller->Projects();
  Help(m, "anthill_program_running", "gauge", "1 when the project's program runs.");
  for (const auto& p : projects) {
    m += "anthill_program_running{project=\"" + Label(p.name) + "\"} " + (p.pid != 0 ? "1" : "0") +
         "\n";
  }
  Help(m, "anthill_program_healthy", "gauge",
       "1 when the running program passed its health check.");
  for (const auto& p : projects) {
    m += "anthill_program_healthy{project=\"" + Label(p.name) + "\"} " +
         (p.health == store::Health::kHealthy ? "1" : "0") + "\n";
  }
  Help(m, "anthill_program_restarts", "gauge", "Automatic restarts of the running version.");
  for (const auto& p : projects) {
    m += "anthill_program_restarts{project=\"" + Label(p.name) + "\"} " +
         std::to_string(p.restarts) + "\n";
  }
  Help(m, "anthill_queue_waiting", "gauge", "1 when a deployment waits in the project's queue.");
  for (const auto& q : controller->Queue()) {
    m += "anthill_queue_waiting{project=\"" + Label(q.project) + "\"} " + (q.waiting ? "1" : "0") +
         "\n";
  }
  Help(m, "anthill_builds_running", "gauge", "Builds holding a slot now.");
  m += "anthill_builds_running " + std::to_string(controller->builds_running()) + "\n";
  Help(m, "anthill_max_parallel_builds", "gauge", "[server] max_parallel_builds.");
  m += "anthill_max_parallel_builds " + std::to_string(controller->max_parallel_builds()) + "\n";
  co_return Response{200, "text/plain; version=0.0.4; charset=utf-8", m, {}};
}

}  // namespace anthill::http
