// One [[project]] table: its keys read, then their values checked together.
#include <regex>

#include "base/files.h"
#include "config/sections.h"
#include "config/validate.h"
#include "os/signals.h"

namespace anthill::config {

namespace fs = std::filesystem;

namespace {

bool IsLocalRelative(const std::string& repo) {
  return repo.rfind("./", 0) == 0 || repo.rfind("../", 0) == 0;
}

}  // namespace

void ReadEnv(TableReader& r, const toml::node& node, std::map<std::string, std::string>& env) {
  if (!node.is_table()) {
    r.Fail(r.Line(node), "env",
           std::string("must be a table of strings, not ") + TableReader::TypeName(node));
    return;
  }
  static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
  for (const auto& [k, v] : *node.as_table()) {
    std::string key(k.str());
    if (!std::regex_match(key, kEnvName)) {
      r.Fail(r.Line(v), "env", "'" + key + "' is not a valid environment variable name");
    } else if (!v.is_string()) {
      r.Fail(r.Line(v), "env",
             "value of " + key + " must be a string, not " + TableReader::TypeName(v));
    } else {
      env[key] = v.as_string()->get();
    }
  }
}

std::string_view CleanWord(Project::Clean clean) {
  switch (clean) {
    case Project::Clean::kNever:
      return "never";
    case Project::Clean::kOnFailure:
      return "on-failure";
    case Project::Clean::kAlways:
      return "always";
  }
  return "never";
}

std::optional<Project::Clean> CleanFromWord(std::string_view word) {
  for (auto c : {Project::Clean::kNever, Project::Clean::kOnFailure, Project::Clean::kAlways}) {
    if (CleanWord(c) == word) return c;
  }
  return std::nullopt;
}

Status ReadProject(const toml::table& t, const std::string& file, const fs::path& base,
                   std::map<std::string, int>& names, Project& p) {
  p.line = TableReader::Line(t);
  std::string label = "[[project]]";
  if (auto n = t.get("name"); n && n->is_string()) {
    label = "[[project]] '" + n->as_string()->get() + "'";
  }
  TableReader r(t, file, label);
  r.String("name", p.name);
  r.String("repo", p.repo);
  r.String("branch", p.branch);
  r.String("tags", p.tags);
  r.DurationKey("poll", p.poll);
  r.DurationKey("quiet_period", p.quiet_period);
  r.String("webhook_secret", p.webhook_secret);
  r.String("build", p.build);
  r.String("test", p.test);
  r.DurationKey("build_timeout", p.build_timeout);
  std::string clean;
  r.String("clean", clean);
  r.StringArray("artifacts", p.artifacts);
  r.StringArray("shared", p.shared);
  r.String("run", p.run);
  if (const toml::node* env = r.Get("env")) ReadEnv(r, *env, p.env);
  if (const toml::node* health = r.Get("health")) {
    Status s = ReadHealth(r, *health, file, "health of " + label, p.health);
    if (!s.ok()) return s;
  }
  std::string stop_signal;
  r.String("stop_signal", stop_signal);
  if (!stop_signal.empty() && r.ok()) {
    auto sig = os::SignalFromName(stop_signal);
    if (!sig.ok()) {
      r.Fail(r.Line(*t.get("stop_signal")), "stop_signal", sig.error());
    } else {
      p.stop_signal = *sig;
      p.stop_signal_name = os::SignalName(*sig);
    }
  }
  r.DurationKey("stop_timeout", p.stop_timeout);
  r.Integer("keep_releases", p.keep_releases);
  std::string restart;
  r.String("restart", restart);
  r.SizeKey("log_max_size", p.log_max_size);
  std::string ready;
  r.String("ready", ready);
  r.StringArray("listen", p.listen);
  r.StringArray("build_labels", p.build_labels);
  r.StringArray("machines", p.machines);
  r.StringArray("labels", p.labels);
  if (const toml::node* rollout = r.Get("rollout")) {
    Status s = ReadRollout(r, *rollout, file, "rollout of " + label, p.rollout);
    if (!s.ok()) return s;
  }
  r.RejectUnknown();
  if (!r.ok()) return r.status();

  for (const char* required : {"name", "repo", "run"}) {
    const toml::node* n = t.get(required);
    if (!n || (n->is_string() && n->as_string()->get().empty())) {
      return Status::InvalidArgument(file + ":" + std::to_string(p.line) + ": " + label +
                                     " is missing required key '" + required + "'");
    }
  }
  static const std::regex kName("[A-Za-z0-9._-]+");
  if (!std::regex_match(p.name, kName) || p.name == "." || p.name == "..") {
    return r.Refuse("name", "'" + p.name + "' may only hold letters, digits, '.', '_' and '-'");
  }
  if (auto it = names.find(p.name); it != names.end()) {
    return Status::InvalidArgument(file + ":" + std::to_string(p.line) +
                                   ": duplicate project name '" + p.name + "' (first at line " +
                                   std::to_string(it->second) + ")");
  }
  names[p.name] = p.line;
  if (t.contains("branch") && t.contains("tags")) {
    return r.Refuse("tags", "set either 'branch' or 'tags', not both");
  }
  if (Status s = ValidateBranch(p.branch); !s.ok()) return r.Refuse("branch", s.message());
  if (p.build_timeout.count() <= 0) return r.Refuse("build_timeout", "must be above 0");
  if (p.keep_releases < 1) return r.Refuse("keep_releases", "must be at least 1");
  if (ready == "notify") {
    p.ready_notify = true;
  } else if (!ready.empty() && ready != "health") {
    return r.Refuse("ready", "'" + ready + "' is not one of health, notify");
  }
  if (!clean.empty()) {
    const std::optional<Project::Clean> c = CleanFromWord(clean);
    if (!c) return r.Refuse("clean", "'" + clean + "' is not one of never, on-failure, always");
    p.clean = *c;
  }
  if (restart == "always") {
    p.restart = Project::Restart::kAlways;
  } else if (restart == "never") {
    p.restart = Project::Restart::kNever;
  } else if (!restart.empty() && restart != "on-failure") {
    return r.Refuse("restart", "'" + restart + "' is not one of on-failure, always, never");
  }
  for (const auto& a : p.artifacts) {
    if (a.empty() || a.front() == '/' ||
        fs::path(a).lexically_normal().string().rfind("..", 0) == 0) {
      return r.Refuse("artifacts", "'" + a + "' must be a relative path inside the workspace");
    }
  }
  for (size_t i = 0; i < p.shared.size(); ++i) {
    const std::string& path = p.shared[i];
    if (!IsPathBelow(path) || path.back() == '/') {
      return r.Refuse("shared", "'" + path +
                                    "' must be a path inside the release, like \"instance\" or "
                                    "\"config/secrets.yml\"");
    }
    for (size_t j = 0; j < i; ++j) {
      const std::string& other = p.shared[j];
      const auto within = [](const std::string& a, const std::string& b) {
        return a == b || a.rfind(b + "/", 0) == 0;
      };
      if (within(path, other) || within(other, path)) {
        return r.Refuse("shared", "'" + path + "' and '" + other + "' overlap: list one of them");
      }
    }
  }
  for (const auto& l : p.listen) {
    // On agents, ${KEY} is the machine's --env value (each machine its own
    // port): checked here with a stand-in, by the agent once expanded.
    static const std::regex kMachineValue(R"(\$\{[A-Za-z_][A-Za-z0-9_]*\})");
    const std::string checked = std::regex_replace(l, kMachineValue, "1");
    if (checked != l && !p.on_agents()) {
      return r.Refuse("listen", "'" + l +
                                    "': ${KEY} is a fleet agent's --env value; this project "
                                    "runs here (no machines or labels)");
    }
    if (checked.rfind("tcp://", 0) == 0) {
      if (Status s = ValidateHostPort(checked.substr(6)); !s.ok()) {
        return r.Refuse("listen", checked == l ? s.message()
                                               : "'" + l + "' is not host:port with a ${KEY} " +
                                                     "for the port (or part of it)");
      }
    } else if (checked.rfind("unix:///", 0) != 0) {
      return r.Refuse("listen", "'" + l + "' must be tcp://host:port or unix:///path");
    }
  }
  for (const auto& label : p.build_labels) {
    if (Status s = ValidateLabel(label); !s.ok()) return r.Refuse("build_labels", s.message());
  }
  for (const auto& glob : p.machines) {
    if (Status s = ValidateMachineGlob(glob); !s.ok()) return r.Refuse("machines", s.message());
  }
  for (const auto& label : p.labels) {
    if (Status s = ValidateLabel(label); !s.ok()) return r.Refuse("labels", s.message());
  }
  if (t.contains("rollout") && !p.on_agents()) {
    return r.Refuse("rollout", "rollout needs machines or labels (the agents it rolls out to)");
  }
  if (IsLocalRelative(p.repo)) p.repo = (base / p.repo).lexically_normal().string();
  return Status::Ok();
}

}  // namespace anthill::config
