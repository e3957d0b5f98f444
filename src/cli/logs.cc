#include "cli/logs.h"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/daemon_client.h"
#include "cli/exit_codes.h"
#include "http/client.h"

namespace anthill::cli {

using nlohmann::json;

int ShowLog(const config::Config& cfg, const std::string& target, bool follow) {
  std::string sep = target.find('?') == std::string::npos ? "?" : "&";
  auto r =
      http::Fetch("GET", cfg.server.listen, target + sep + "bytes=65536", "", cfg.server.token);
  if (!r.ok()) return ReportError(r.status());
  if (r->status >= 400) {
    json body = json::parse(r->body, nullptr, false);
    return ReportError(Refusal(r->status, body.is_discarded() ? r->body : Str(body, "error")));
  }
  std::cout << r->body << std::flush;
  if (!follow) return 0;
  int64_t offset = std::stoll(r->headers.count("x-log-size") ? r->headers["x-log-size"] : "0");
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    r = http::Fetch("GET", cfg.server.listen, target + sep + "offset=" + std::to_string(offset), "",
                    cfg.server.token);
    if (!r.ok() || r->status >= 400) continue;  // the daemon restarting: keep trying
    int64_t size = std::stoll(r->headers.count("x-log-size") ? r->headers["x-log-size"] : "0");
    if (size < offset) {  // rotated: start over from the new file's beginning
      offset = 0;
      continue;
    }
    std::cout << r->body << std::flush;
    offset += static_cast<int64_t>(r->body.size());
  }
}

int ShowBuildLog(const config::Config& cfg, const std::string& project, const std::string& id,
                 bool follow) {
  std::string deployment = id;
  if (deployment.empty()) {
    auto latest = GetJson(cfg, "/api/v1/deployments?limit=1&project=" + project);
    if (!latest.ok()) return ReportError(latest.status());
    if ((*latest)["deployments"].empty()) {
      std::cerr << "anthill: " << project << " has no deployment yet\n";
      return kExitRefused;
    }
    deployment = Str((*latest)["deployments"][0], "id");
  } else {
    auto d = GetJson(cfg, "/api/v1/deployments/" + deployment);
    if (!d.ok()) {
      int code = ReportError(d.status());
      if (code == kExitRefused) {
        std::cerr << "anthill: `anthill deployments " << project << "` lists " << project
                  << "'s deployments\n";
      }
      return code;
    }
    if (Str(*d, "project") != project) {
      std::cerr << "anthill: deployment " << deployment << " is " << Str(*d, "project")
                << "'s, not " << project << "'s: `anthill logs " << Str(*d, "project")
                << " --build " << deployment << "`\n";
      return kExitRefused;
    }
  }
  return ShowLog(cfg, "/api/v1/deployments/" + deployment + "/log", follow);
}

}  // namespace anthill::cli
