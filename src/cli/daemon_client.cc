#include "cli/daemon_client.h"

#include <chrono>
#include <iostream>

#include "base/time.h"
#include "cli/exit_codes.h"
#include "http/client.h"
#include "http/reply.h"
#include "http/status_codes.h"

namespace anthill::cli {

using nlohmann::json;

std::string Pretty(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return http::Dump(*it);
}

Status Refusal(int http_status, const std::string& reason) {
  return Status::Error(http::StatusCodeForHttp(http_status),
                       "the daemon said " + std::to_string(http_status) + ": " + reason);
}

Result<json> SendJson(const config::Config& cfg, const std::string& method,
                      const std::string& target, const json& body) {
  auto r = http::Fetch(method, cfg.server.listen, target, body.is_null() ? "" : http::Dump(body),
                       cfg.server.token);
  if (!r.ok()) return r.status();
  json answer = json::parse(r->body, nullptr, false);
  // Whatever answers with something other than JSON is not Anthill.
  if (answer.is_discarded()) return Status::Unavailable("the daemon answered with bad JSON");
  if (r->status >= 400) return Refusal(r->status, Str(answer, "error"));
  return answer;
}

Result<json> GetJson(const config::Config& cfg, const std::string& target) {
  return SendJson(cfg, "GET", target, nullptr);
}

std::string Ago(const std::string& rfc3339) {
  if (rfc3339.empty()) return "never";
  auto t = ParseRfc3339(rfc3339);
  if (!t.ok()) return rfc3339;
  auto d = std::chrono::duration_cast<Duration>(Now() - *t);
  return FormatDuration(d) + " ago";
}

int ReportError(const Status& s) {
  std::cerr << "anthill: " << s.message() << "\n";
  const bool unreached = s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimedOut;
  return unreached ? kExitUnreachable : kExitRefused;
}

}  // namespace anthill::cli
