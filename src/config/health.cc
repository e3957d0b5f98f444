// A project's health check: `health = { http = "...", timeout = "30s" }`.
#include "config/sections.h"
#include "config/validate.h"

namespace anthill::config {

Status ReadHealth(TableReader& project, const toml::node& node, const std::string& file,
                  const std::string& where, HealthCheck& h) {
  // What is wrong with the check as a whole is the project's error, at its
  // health key: recorded in the project's reader, which reports it, so this
  // returns ok.
  auto fail = [&](const std::string& what) {
    project.Fail(TableReader::Line(node), "health", what);
    return Status::Ok();
  };
  if (!node.is_table()) {
    return fail(std::string("must be a table like { http = \"...\" }, not ") +
                TableReader::TypeName(node));
  }
  TableReader r(*node.as_table(), file, where);
  std::string http, tcp, command;
  r.String("http", http);
  r.String("tcp", tcp);
  r.String("command", command);
  r.DurationKey("timeout", h.timeout);
  r.DurationKey("interval", h.interval);
  r.DurationKey("grace", h.grace);
  r.DurationKey("watch", h.watch);
  r.DurationKey("min_healthy_time", h.min_healthy_time);
  r.RejectUnknown();
  // Errors inside the table carry their own location.
  if (!r.ok()) return r.status();

  int kinds = !http.empty() + !tcp.empty() + !command.empty();
  if (kinds != 1) return fail("set exactly one of http, tcp or command");
  if (!http.empty()) {
    if (http.rfind("http://", 0) != 0) {
      return fail("http must be an http:// URL, not '" + http + "'");
    }
    h.kind = HealthCheck::Kind::kHttp;
    h.target = http;
  } else if (!tcp.empty()) {
    Status s = ValidateHostPort(tcp);
    if (!s.ok()) return fail("tcp: " + s.message());
    h.kind = HealthCheck::Kind::kTcp;
    h.target = tcp;
  } else {
    h.kind = HealthCheck::Kind::kCommand;
    h.target = command;
  }
  if (h.timeout.count() <= 0) return fail("timeout must be above 0");
  return Status::Ok();
}

}  // namespace anthill::config
