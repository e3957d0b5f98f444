#include "cli/actions.h"

#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "base/time.h"
#include "cli/daemon_client.h"
#include "cli/exit_codes.h"
#include "http/reply.h"
#include "http/url.h"

namespace anthill::cli {

namespace {

using nlohmann::json;

// Follows a deployment until it ends, printing each step as it finishes
// (an agent's with its machine), and, in a rollout to agents, each
// machine's progress batch by batch ("web-2 (batch 2): switching").
// Returns the exit code: 0 when it succeeded.
int Follow(const config::Config& cfg, int64_t id, bool as_json) {
  std::set<std::string> printed;                // step ids
  std::map<std::string, std::string> machines;  // machine -> status printed
  for (;;) {
    auto d = GetJson(cfg, "/api/v1/deployments/" + std::to_string(id));
    if (!d.ok()) return ReportError(d.status());
    const std::string here = Str(*d, "machine");
    for (const auto& st : (*d)["steps"]) {
      if (as_json || Str(st, "status") == "running" || !printed.insert(Str(st, "id")).second) {
        continue;
      }
      std::string duration;
      if (st.contains("duration_ms") && st["duration_ms"].is_number()) {
        duration = " (" + FormatDuration(Duration(st["duration_ms"].get<int64_t>())) + ")";
      }
      const std::string where = Str(st, "machine") == here ? "" : Str(st, "machine") + ": ";
      std::cout << "  " << where << Str(st, "name") << " " << Str(st, "status") << duration
                << (Str(st, "error").empty() ? "" : ": " + Str(st, "error")) << "\n";
    }
    if (!as_json && d->contains("machines") && (*d)["machines"].is_array()) {
      for (const auto& m : (*d)["machines"]) {
        const std::string name = Str(m, "machine"), status = Str(m, "status");
        if (machines[name] == status) continue;
        machines[name] = status;
        const std::string batch = Str(m, "batch") == "0" ? "" : " (batch " + Str(m, "batch") + ")";
        std::cout << "  " << name << batch << ": " << status
                  << (Str(m, "error").empty() ? "" : ": " + Str(m, "error")) << "\n";
      }
    }
    std::string status = Str(*d, "status");
    if (status != "queued" && status != "running") {
      if (as_json) {
        std::cout << Pretty(*d) << "\n";
      } else {
        std::cout << "deployment " << id << " " << status << ": "
                  << (Str(*d, "from_version").empty() ? "(nothing)" : Str(*d, "from_version"))
                  << " -> " << Str(*d, "to_version")
                  << (Str(*d, "error").empty() ? "" : "\n  error: " + Str(*d, "error")) << "\n";
      }
      return status == "succeeded" ? 0 : kExitDeployFailed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

std::string CurrentUser() {
  if (const char* u = getenv("USER"); u && *u) return u;
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return "uid " + std::to_string(getuid());
}

int Act(const config::Config& cfg, const std::string& target, const json& body, bool wait,
        bool as_json) {
  auto answer = SendJson(cfg, "POST", target, body);
  if (!answer.ok()) return ReportError(answer.status());
  const json& dep = (*answer)["deployment"];
  if (!wait || !dep.is_number()) {
    std::cout << (as_json ? http::Dump(*answer) : Str(*answer, "message")) << "\n";
    return 0;
  }
  if (!as_json) std::cout << Str(*answer, "message") << "\n";
  return Follow(cfg, dep.get<int64_t>(), as_json);
}

int Cancel(const config::Config& cfg, int64_t id, const std::string& actor) {
  auto answer =
      SendJson(cfg, "DELETE",
               "/api/v1/deployments/" + std::to_string(id) + "?actor=" + http::PercentEncode(actor),
               nullptr);
  if (!answer.ok()) return ReportError(answer.status());
  std::cout << Str(*answer, "message") << "\n";
  return 0;
}

}  // namespace anthill::cli
