#include "cli/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/time.h"
#include "cli/table.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "http/client.h"
#include "http/json.h"
#include "http/reply.h"
#include "http/status_codes.h"
#include "http/url.h"
#include "store/records.h"

namespace anthill::cli {

namespace {

using nlohmann::json;

// The exit codes, as the README's "Exit codes" table lists them.
constexpr int kExitUnreachable = 1;   // the daemon not reached, or not answering as Anthill
constexpr int kExitConfig = 2;        // the config file is wrong or missing
constexpr int kExitUsage = 2;         // the command line is wrong; nothing was asked of anyone
constexpr int kExitRefused = 3;       // the daemon said no (unknown project, bad ref, token)
constexpr int kExitDeployFailed = 4;  // the deployment ended other than succeeded

// JSON for people: indented, and bytes that are not UTF-8 (a ref or user
// name from outside) shown as U+FFFD instead of ending the program.
std::string Pretty(const json& j) { return j.dump(2, ' ', false, json::error_handler_t::replace); }

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return http::Dump(*it);
}

std::string Ago(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t.ok()) return rfc3339;
  auto d = std::chrono::duration_cast<Duration>(Now() - *t);
  return FormatDuration(d) + " ago";
}

// The daemon's refusal of a request: "the daemon said 404: no project 'x'",
// of the kind of its HTTP status (kNotFound for a 404).
Status Refusal(int http_status, const std::string& reason) {
  return Status::Error(http::StatusCodeForHttp(http_status),
                       "the daemon said " + std::to_string(http_status) + ": " + reason);
}

// Sends `body` (none when null) to the daemon named in the config; the
// answer's JSON, or an error with the daemon's reason.
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

// Prints a failed request's error; its exit code, by the error's kind: the
// daemon not reached (http::Fetch's kUnavailable and kTimedOut, an answer
// that is not Anthill's, a daemon answering 503 while it stops), or refused
// by the daemon (any other kind: a 404, 400, 401, 409...).
int ReportError(const Status& s) {
  std::cerr << "anthill: " << s.message() << "\n";
  const bool unreached = s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kTimedOut;
  return unreached ? kExitUnreachable : kExitRefused;
}

// The words `--status` accepts, in the store's order: "queued, running, ...".
std::vector<std::string> DeploymentStatusWords() {
  std::vector<std::string> words;
  for (int i = static_cast<int>(store::DeploymentStatus::kQueued);
       i <= static_cast<int>(store::DeploymentStatus::kInterrupted); ++i) {
    words.emplace_back(store::ToString(static_cast<store::DeploymentStatus>(i)));
  }
  return words;
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// An option that takes one of `words`: checked while parsing, so a wrong word
// is a usage error that lists the right ones before the daemon is asked.
CLI::Validator OneOf(std::vector<std::string> words, const std::string& what) {
  std::string list = JoinWords(words);
  return CLI::Validator(
      [words = std::move(words), list, what](std::string& value) -> std::string {
        for (const auto& w : words) {
          if (value == w) return "";
        }
        return "'" + value + "' is not " + what + "; use one of: " + list;
      },
      "{" + list + "}");
}

// A deployment id: digits, not 0. Empty passes (an option given no value).
CLI::Validator DeploymentId() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.empty()) return "";
        bool digits =
            value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos;
        if (digits && std::stoll(value) > 0) return "";
        return "'" + value + "' is not a deployment id (a number, as `anthill deployments` lists)";
      },
      "");
}

// Who is acting, for the record: the login name.
std::string CurrentUser() {
  if (const char* u = getenv("USER"); u && *u) return u;
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return "uid " + std::to_string(getuid());
}

// Follows a deployment until it ends, printing each step as it finishes.
// Returns the exit code: 0 when it succeeded.
int Follow(const config::Config& cfg, int64_t id, bool as_json) {
  size_t printed = 0;
  for (;;) {
    auto d = GetJson(cfg, "/api/v1/deployments/" + std::to_string(id));
    if (!d.ok()) return ReportError(d.status());
    const auto& steps = (*d)["steps"];
    for (; !as_json && printed < steps.size(); ++printed) {
      const auto& st = steps[printed];
      if (Str(st, "status") == "running") break;
      std::string duration;
      if (st.contains("duration_ms") && st["duration_ms"].is_number()) {
        duration = " (" + FormatDuration(Duration(st["duration_ms"].get<int64_t>())) + ")";
      }
      std::cout << "  " << Str(st, "name") << " " << Str(st, "status") << duration
                << (Str(st, "error").empty() ? "" : ": " + Str(st, "error")) << "\n";
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

// POSTs an action and, unless told not to, follows the deployment it made.
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

// Prints a log the daemon serves at `target` (?offset=&bytes= aware); with
// follow, keeps asking for what was appended until interrupted.
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

// `anthill logs PROJECT --build [ID]`: deployment id's fetch/build/test log,
// or the project's latest deployment's when id is empty. The pipeline's
// failure messages name this command with the id, so it must work as written.
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
  std::cout << "builds running: " << Str(*body, "builds_running") << " of "
            << Str(*body, "max_parallel_builds") << "\n";
  return 0;
}

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
  deployments->add_option("--status", status_filter, "only this status")
      ->type_name("STATUS")
      ->check(OneOf(DeploymentStatusWords(), "a deployment status"));
  deployments->add_option("--limit", limit, "how many")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  deployments->add_flag("--json", as_json, "print JSON");
  std::string ref, commit, to_version;
  bool no_wait = false;
  auto* deploy = app.add_subcommand("deploy", "deploy a ref's current commit now, by hand");
  add_config(deploy);
  deploy->add_option("project", project, "the project")->required();
  deploy->add_option("--ref", ref, "branch, tag or refs/... (default: the project's rule)");
  deploy->add_flag("--no-wait", no_wait, "return once queued");
  deploy->add_flag("--json", as_json, "print JSON");
  auto* rollback = app.add_subcommand("rollback", "go back to the previous good release");
  add_config(rollback);
  rollback->add_option("project", project, "the project")->required();
  rollback->add_option("--to", to_version, "this version (label or release dir) instead");
  rollback->add_flag("--no-wait", no_wait, "return once queued");
  rollback->add_flag("--json", as_json, "print JSON");
  auto* notify =
      app.add_subcommand("notify", "tell the daemon a push happened (post-receive hook)");
  add_config(notify);
  notify->add_option("project", project, "the project")->required();
  notify->add_option("--ref", ref, "the pushed ref (refs/heads/main)");
  notify->add_option("--commit", commit, "the pushed commit (40 hex)");
  notify->add_flag("--json", as_json, "print JSON");
  int64_t cancel_id = 0;
  auto* cancel = app.add_subcommand("cancel", "cancel a queued or building deployment");
  add_config(cancel);
  cancel->add_option("id", cancel_id, "the deployment id")->required();
  auto* stop = app.add_subcommand("stop", "stop a project's program on purpose (stays stopped)");
  add_config(stop);
  stop->add_option("project", project, "the project")->required();
  auto* start = app.add_subcommand("start", "start a project's program again");
  add_config(start);
  start->add_option("project", project, "the project")->required();
  bool follow = false;
  std::string build_id;  // empty with --build alone: the latest deployment
  auto* logs = app.add_subcommand("logs", "a project's program log, or a deployment's build log");
  add_config(logs);
  logs->add_option("project", project, "the project")->required();
  logs->add_flag("-f,--follow", follow, "keep printing what is appended");
  auto* build_log =
      logs->add_option("--build", build_id,
                       "deployment ID's fetch/build/test log instead (no ID: the latest's)")
          ->expected(0, 1)
          ->type_name("[ID]")
          ->check(DeploymentId());
  auto* queue = app.add_subcommand("queue", "running and waiting deployments");
  add_config(queue);
  queue->add_flag("--json", as_json, "print JSON");
  auto* version = app.add_subcommand("version", "print anthill's version");
  version->add_flag("--json", as_json, "print JSON");
  std::string help_topic;
  auto* help = app.add_subcommand("help", "this help, or a command's (anthill help deploy)");
  help->add_option("command", help_topic, "a command");

  auto command_names = [&] {
    std::string names;
    for (const CLI::App* cmd : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + cmd->get_name();
    }
    return names;
  };
  auto find_command = [&](const std::string& name) -> const CLI::App* {
    for (const CLI::App* cmd : app.get_subcommands({})) {
      if (cmd->get_name() == name) return cmd;
    }
    return nullptr;
  };
  // CLI11 would take an unknown command for a stray argument and answer "A
  // subcommand is required": name it instead.
  if (argc > 1 && argv[1][0] != '-' && find_command(argv[1]) == nullptr) {
    std::cerr << "anthill: no command '" << argv[1] << "'; the commands: " << command_names()
              << " (anthill help)\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the help (--help: exit code 0) or the error; its own exit
    // codes (100 and up) are not ours: every other parse error is a usage error.
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  if (help->parsed()) {
    // app.help() would show the help of the command given, `help` itself.
    const CLI::App* about = help_topic.empty() ? &app : find_command(help_topic);
    if (about == nullptr) {
      std::cerr << "anthill: no command '" << help_topic << "'; the commands: " << command_names()
                << "\n";
      return kExitUsage;
    }
    std::cout << app.get_formatter()->make_help(
        about, "anthill" + (about == &app ? "" : " " + help_topic), CLI::AppFormatMode::Normal);
    return 0;
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
    if (auto database = daemon::DatabaseOf(*cfg); !database.ok()) {
      std::cerr << "anthill: " << database.error() << "\n";
      return kExitConfig;
    }
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
  if (queue->parsed()) return ShowQueue(*cfg, as_json);
  if (logs->parsed()) {
    if (build_log->count() > 0) return ShowBuildLog(*cfg, project, build_id, follow);
    return ShowLog(*cfg, "/api/v1/projects/" + project + "/log", follow);
  }
  // Project names are [A-Za-z0-9._-]+: safe in a path as they are.
  const std::string actor = CurrentUser();
  if (deploy->parsed()) {
    return Act(*cfg, "/api/v1/projects/" + project + "/deploy", {{"ref", ref}, {"actor", actor}},
               !no_wait, as_json);
  }
  if (rollback->parsed()) {
    return Act(*cfg, "/api/v1/projects/" + project + "/rollback",
               {{"version", to_version}, {"actor", actor}}, !no_wait, as_json);
  }
  if (notify->parsed()) {
    return Act(*cfg, "/api/v1/projects/" + project + "/notify",
               {{"ref", ref}, {"commit", commit}, {"actor", actor}}, false, as_json);
  }
  if (stop->parsed() || start->parsed()) {
    return Act(*cfg, "/api/v1/projects/" + project + (stop->parsed() ? "/stop" : "/start"),
               {{"actor", actor}}, false, as_json);
  }
  if (cancel->parsed()) {
    auto answer = SendJson(
        *cfg, "DELETE",
        "/api/v1/deployments/" + std::to_string(cancel_id) + "?actor=" + http::PercentEncode(actor),
        nullptr);
    if (!answer.ok()) return ReportError(answer.status());
    std::cout << Str(*answer, "message") << "\n";
    return 0;
  }
  return 0;
}

}  // namespace anthill::cli
