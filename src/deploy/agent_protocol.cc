#include "deploy/agent_protocol.h"

#include <nlohmann/json.hpp>

namespace anthill::deploy {

using nlohmann::json;

namespace {

using Restart = config::Project::Restart;
using HealthKind = config::HealthCheck::Kind;

// Words both ways; an unknown word is the default (a newer orchestrator's).
constexpr std::pair<Restart, std::string_view> kRestartWords[] = {
    {Restart::kOnFailure, "on-failure"}, {Restart::kAlways, "always"}, {Restart::kNever, "never"}};
constexpr std::pair<HealthKind, std::string_view> kHealthWords[] = {
    {HealthKind::kNone, "none"},
    {HealthKind::kHttp, "http"},
    {HealthKind::kTcp, "tcp"},
    {HealthKind::kCommand, "command"}};

template <typename E, size_t N>
std::string_view Word(const std::pair<E, std::string_view> (&table)[N], E e) {
  for (const auto& [v, w] : table) {
    if (v == e) return w;
  }
  return table[0].second;
}
template <typename E, size_t N>
E FromWord(const std::pair<E, std::string_view> (&table)[N], const std::string& word) {
  for (const auto& [v, w] : table) {
    if (w == word) return v;
  }
  return table[0].first;
}

// Text from outside may hold any bytes: nlohmann refuses to dump what is
// not UTF-8 unless told to replace it.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json ReleaseJson(const AgentRelease& r) {
  return {{"release", r.release}, {"version", r.version},           {"commit", r.commit},
          {"ref", r.ref},         {"artifact_key", r.artifact_key}, {"sha256", r.sha256},
          {"size", r.size}};
}
AgentRelease ReleaseOf(const json& j) {
  AgentRelease r;
  r.release = j.value("release", "");
  r.version = j.value("version", "");
  r.commit = j.value("commit", "");
  r.ref = j.value("ref", "");
  r.artifact_key = j.value("artifact_key", "");
  r.sha256 = j.value("sha256", "");
  r.size = j.value("size", int64_t{0});
  return r;
}

json ProgramJson(const AgentProgram& p) {
  return {{"run", p.run},
          {"stop_signal", p.stop_signal},
          {"stop_timeout_ms", p.stop_timeout.count()},
          {"restart", Word(kRestartWords, p.restart)},
          {"health",
           {{"kind", Word(kHealthWords, p.health.kind)},
            {"target", p.health.target},
            {"timeout_ms", p.health.timeout.count()},
            {"interval_ms", p.health.interval.count()},
            {"grace_ms", p.health.grace.count()},
            {"watch_ms", p.health.watch.count()},
            {"min_healthy_ms", p.health.min_healthy_time.count()}}},
          {"listen", p.listen},
          {"ready_notify", p.ready_notify},
          {"log_max_size", p.log_max_size},
          {"env", p.env},
          {"shared", p.shared}};
}
AgentProgram ProgramOf(const json& j) {
  AgentProgram p;
  p.run = j.value("run", "");
  p.stop_signal = j.value("stop_signal", 15);
  p.stop_timeout = Duration(j.value("stop_timeout_ms", int64_t{10000}));
  p.restart = FromWord(kRestartWords, j.value("restart", ""));
  if (j.contains("health") && j["health"].is_object()) {
    const json& h = j["health"];
    p.health.kind = FromWord(kHealthWords, h.value("kind", ""));
    p.health.target = h.value("target", "");
    p.health.timeout = Duration(h.value("timeout_ms", int64_t{30000}));
    p.health.interval = Duration(h.value("interval_ms", int64_t{200}));
    p.health.grace = Duration(h.value("grace_ms", int64_t{1000}));
    p.health.watch = Duration(h.value("watch_ms", int64_t{10000}));
    p.health.min_healthy_time = Duration(h.value("min_healthy_ms", int64_t{0}));
  }
  p.listen = j.value("listen", std::vector<std::string>{});
  p.ready_notify = j.value("ready_notify", false);
  p.log_max_size = j.value("log_max_size", int64_t{50LL << 20});
  p.env = j.value("env", std::vector<std::string>{});
  p.shared = j.value("shared", std::vector<std::string>{});
  return p;
}

json DesiredJson(const DesiredProject& p) {
  json fetch = json::array();
  for (const AgentRelease& r : p.fetch) fetch.push_back(ReleaseJson(r));
  return {{"project", p.project},   {"deployment_id", p.deployment_id},
          {"fetch", fetch},         {"run", p.run ? ReleaseJson(*p.run) : json(nullptr)},
          {"rollback", p.rollback}, {"program", ProgramJson(p.program)}};
}
DesiredProject DesiredOf(const json& j) {
  DesiredProject p;
  p.project = j.value("project", "");
  p.deployment_id = j.value("deployment_id", int64_t{0});
  if (j.contains("fetch") && j["fetch"].is_array()) {
    for (const json& r : j["fetch"]) p.fetch.push_back(ReleaseOf(r));
  }
  if (j.contains("run") && j["run"].is_object()) p.run = ReleaseOf(j["run"]);
  p.rollback = j.value("rollback", false);
  if (j.contains("program") && j["program"].is_object()) p.program = ProgramOf(j["program"]);
  return p;
}

json ReportJson(const ProjectReport& r) {
  return {{"project", r.project},
          {"generation", r.generation},
          {"fetched", r.fetched},
          {"fetch_failed", r.fetch_failed},
          {"run_deployment_id", r.run_deployment_id},
          {"run_release", r.run_release},
          {"run_status", r.run_status},
          {"run_error", r.run_error},
          {"running_release", r.running_release},
          {"running_version", r.running_version},
          {"running_commit", r.running_commit},
          {"pid", r.pid},
          {"health", r.health},
          {"since_ms", r.since ? json(ToUnixMillis(*r.since)) : json(nullptr)}};
}
ProjectReport ReportOf(const json& j) {
  ProjectReport r;
  r.project = j.value("project", "");
  r.generation = j.value("generation", int64_t{0});
  r.fetched = j.value("fetched", std::vector<std::string>{});
  r.fetch_failed = j.value("fetch_failed", std::map<std::string, std::string>{});
  r.run_deployment_id = j.value("run_deployment_id", int64_t{0});
  r.run_release = j.value("run_release", "");
  r.run_status = j.value("run_status", "");
  r.run_error = j.value("run_error", "");
  r.running_release = j.value("running_release", "");
  r.running_version = j.value("running_version", "");
  r.running_commit = j.value("running_commit", "");
  r.pid = j.value("pid", int64_t{0});
  r.health = j.value("health", "");
  if (j.contains("since_ms") && j["since_ms"].is_number_integer()) {
    r.since = FromUnixMillis(j["since_ms"].get<int64_t>());
  }
  return r;
}

// Parses `text` as a JSON object and reads it with `read`; a wrong type
// anywhere is a clear error, never an exception out of here.
template <typename T, typename F>
Result<T> ParseObject(std::string_view text, std::string_view what, F read) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) return Status::InvalidArgument(std::string(what) + ": not a JSON object");
    return read(j);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string(what) + ": " + e.what());
  }
}

}  // namespace

std::string ToJson(const DesiredProject& p) { return Dump(DesiredJson(p)); }

Result<DesiredProject> ParseDesiredProject(std::string_view text) {
  return ParseObject<DesiredProject>(text, "desired project",
                                     [](const json& j) { return DesiredOf(j); });
}

std::string ToJson(const DesiredState& s) {
  std::vector<std::string> texts;
  for (const DesiredProject& p : s.projects) texts.push_back(ToJson(p));
  return DesiredStateJson(s.generation, s.artifacts, {texts.begin(), texts.end()});
}

std::string DesiredStateJson(int64_t generation, const AgentArtifactStore& artifacts,
                             const std::vector<std::string_view>& project_jsons) {
  // The object's keys in the order Dump writes them (sorted): the projects
  // last, spliced in as they are.
  std::string out = Dump({{"artifacts",
                           {{"store", artifacts.store},
                            {"endpoint", artifacts.endpoint},
                            {"region", artifacts.region}}},
                          {"generation", generation}});
  out.pop_back();  // the closing brace
  out += ",\"projects\":[";
  for (size_t i = 0; i < project_jsons.size(); ++i) {
    if (i > 0) out += ',';
    out += project_jsons[i];
  }
  out += "]}";
  return out;
}

Result<DesiredState> ParseDesiredState(std::string_view text) {
  return ParseObject<DesiredState>(text, "desired state", [](const json& j) {
    DesiredState s;
    s.generation = j.value("generation", int64_t{0});
    if (j.contains("artifacts") && j["artifacts"].is_object()) {
      const json& a = j["artifacts"];
      s.artifacts.store = a.value("store", "orchestrator");
      s.artifacts.endpoint = a.value("endpoint", "");
      s.artifacts.region = a.value("region", "us-east-1");
    }
    if (j.contains("projects") && j["projects"].is_array()) {
      for (const json& p : j["projects"]) s.projects.push_back(DesiredOf(p));
    }
    return s;
  });
}

std::string ToJson(const ProjectReport& r) { return Dump(ReportJson(r)); }

Result<ProjectReport> ParseProjectReport(std::string_view text) {
  return ParseObject<ProjectReport>(text, "project report",
                                    [](const json& j) { return ReportOf(j); });
}

std::string ToJson(const store::AgentReport& r) {
  json steps = json::array();
  for (const store::AgentStep& s : r.steps) {
    steps.push_back(
        {{"key", s.key},
         {"deployment_id", s.deployment_id},
         {"name", store::ToString(s.name)},
         {"status", store::ToString(s.status)},
         {"started_at_ms", ToUnixMillis(s.started_at)},
         {"finished_at_ms", s.finished_at ? json(ToUnixMillis(*s.finished_at)) : json(nullptr)},
         {"error", s.error}});
  }
  json states = json::array();
  for (const auto& [project, state] : r.states) {
    auto parsed = json::parse(state, nullptr, /*allow_exceptions=*/false);
    states.push_back(parsed.is_discarded() ? json(nullptr) : parsed);
  }
  return Dump({{"id", r.id}, {"steps", steps}, {"states", states}});
}

Result<store::AgentReport> ParseAgentReport(std::string_view text) {
  return ParseObject<store::AgentReport>(
      text, "report", [](const json& j) -> Result<store::AgentReport> {
        store::AgentReport r;
        r.id = j.value("id", "");
        if (r.id.empty()) return Status::InvalidArgument("report: no id");
        if (j.contains("steps") && j["steps"].is_array()) {
          for (const json& s : j["steps"]) {
            store::AgentStep step;
            step.key = s.value("key", "");
            step.deployment_id = s.value("deployment_id", int64_t{0});
            auto name = store::ParseStepName(s.value("name", ""));
            auto status = store::ParseStepStatus(s.value("status", ""));
            if (step.key.empty() || !name || !status) {
              return Status::InvalidArgument("report: a step needs a key, a name and a status");
            }
            step.name = *name;
            step.status = *status;
            step.started_at = FromUnixMillis(s.value("started_at_ms", int64_t{0}));
            if (s.contains("finished_at_ms") && s["finished_at_ms"].is_number_integer()) {
              step.finished_at = FromUnixMillis(s["finished_at_ms"].get<int64_t>());
            }
            step.error = s.value("error", "");
            r.steps.push_back(std::move(step));
          }
        }
        if (j.contains("states") && j["states"].is_array()) {
          for (const json& st : j["states"]) {
            if (!st.is_object()) continue;
            ProjectReport pr = ReportOf(st);
            if (pr.project.empty())
              return Status::InvalidArgument("report: a state needs a project");
            r.states.emplace_back(pr.project, ToJson(pr));
          }
        }
        return r;
      });
}

AgentProgram ProgramOf(const config::Project& project, Duration min_healthy) {
  AgentProgram p;
  p.run = project.run;
  p.stop_signal = project.stop_signal;
  p.stop_timeout = project.stop_timeout;
  p.restart = project.restart;
  p.health = project.health;
  p.health.min_healthy_time = std::max(p.health.min_healthy_time, min_healthy);
  p.listen = project.listen;
  p.ready_notify = project.ready_notify;
  p.log_max_size = project.log_max_size;
  for (const auto& [k, v] : project.env) p.env.push_back(k + "=" + v);
  p.shared = project.shared;
  return p;
}

}  // namespace anthill::deploy
