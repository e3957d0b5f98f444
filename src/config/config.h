// anthill.toml as plain structs. Only config/ knows TOML: everything else sees
// these validated values. Every field says its default.
// Thread: plain values.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::config {

struct HealthCheck {
  enum class Kind { kNone, kHttp, kTcp, kCommand };
  Kind kind = Kind::kNone;  // none: started and still running after `grace` = healthy
  std::string target;       // URL, "host:port" or shell command
  Duration timeout{30000};  // give up (deployment rolls back) after this
  Duration interval{200};   // time between probes
  Duration grace{1000};     // kind none: how long the program must stay up
  Duration watch{10000};    // once healthy, probe this often and report "unhealthy"; 0 = never
  // A new version must keep running and keep passing its probe this long
  // after it first passed, or it is rolled back; the deployment succeeds
  // only after it. 0 = passing once is enough. (Nomad's min_healthy_time.)
  Duration min_healthy_time{0};
  bool operator==(const HealthCheck&) const = default;
};

// How a project's new release reaches its agents (README, "A fleet"): every
// target fetches it first, then they switch batch by batch.
struct Rollout {
  // Machines switched at once: `batch_count` when above 0, else
  // `batch_percent` of the targets, rounded up (at least 1 machine).
  int batch_count = 0;
  int batch_percent = 25;  // 1..100
  // A switched machine must stay healthy this long before its batch is done
  // (it raises the program's health.min_healthy_time on the agents).
  Duration min_healthy{10000};
  Duration pause{0};  // between one batch's end and the next's start
  // A machine that fails its switch: every machine switched goes back to
  // what it ran before (kRollback), or the rollout stops where it is (kHalt).
  enum class OnFailure { kRollback, kHalt };
  OnFailure on_failure = OnFailure::kRollback;
  // An agent silent this long (no new report) is "lost": it counts as failed.
  Duration agent_timeout{5 * 60 * 1000};
};

struct Project {
  std::string name;                        // required; [A-Za-z0-9._-]+
  std::string repo;                        // required; any URL git understands
  std::string branch = "main";             // deploy this branch's head ...
  std::string tags;                        // ... or the newest tag matching this glob
  Duration poll{10000};                    // 0 = webhooks/notify only
  Duration quiet_period{0};                // wait this long after the last push before building
  std::string webhook_secret;              // HMAC-SHA256 secret for /hooks/*
  std::string build;                       // shell command in the workspace; empty = none
  std::string test;                        // shell command; failure blocks the deploy
  Duration build_timeout{30 * 60 * 1000};  // build and test each; killed after this
  // When the workspace is emptied of untracked and ignored files (git clean
  // -ffdx) before a build; a build that was interrupted is followed by one
  // whatever this says.
  enum class Clean { kNever, kOnFailure, kAlways };
  Clean clean = Clean::kNever;
  std::vector<std::string> artifacts;  // paths copied into the release; empty = all but .git
  // Paths in the release kept across releases under projects/<name>/shared/
  // and linked into each release before its program starts.
  std::vector<std::string> shared;
  std::string run;                         // required; started in the release dir
  std::map<std::string, std::string> env;  // extra environment for build, test and run
  HealthCheck health;
  int stop_signal = 15;  // SIGTERM
  std::string stop_signal_name = "SIGTERM";
  Duration stop_timeout{10000};  // then SIGKILL
  int keep_releases = 5;         // old releases kept besides current and last good
  enum class Restart { kOnFailure, kAlways, kNever };
  Restart restart = Restart::kOnFailure;  // a program that exits on its own is started again
  int64_t log_max_size = 50LL << 20;      // logs/app/<name>.log rotated past this (keep 3)
  std::vector<std::string> listen;        // sockets Anthill holds and passes (zero-downtime swap)
  // In a fleet: what a builder must have (its [builder] labels) to build
  // this project; empty = any builder.
  std::vector<std::string> build_labels;
  bool ready_notify = false;  // ready = "notify": wait for sd_notify READY=1
  // In a fleet: the agents that run it, by name (fnmatch globs, any of them)
  // and by labels (an agent must have every one); both empty: it runs on
  // the orchestrator's own machine.
  std::vector<std::string> machines;
  std::vector<std::string> labels;
  Rollout rollout;  // how a release reaches those agents
  int line = 0;     // line of its [[project]] header, for messages

  bool on_agents() const { return !machines.empty() || !labels.empty(); }
};

// What one Anthill process does (README, "A fleet"). One process with
// every role is the single-machine default.
struct Roles {
  bool orchestrator = true;  // watches repositories, queues, keeps the record, API and UI
  bool builder = true;       // takes build jobs and packs artifacts
  bool agent = true;         // runs the projects' programs on this machine
  bool all() const { return orchestrator && builder && agent; }
  // "orchestrator, builder, agent": the ones set, in that order.
  std::string Describe() const;
};

// The words of Roles, as `roles` and `--role` take them. The words must be
// ones of "orchestrator", "builder", "agent", each once, at least one; the
// error says which word is wrong.
Result<Roles> ParseRoles(const std::vector<std::string>& words);

// "never", "on-failure", "always": what `clean` says in the config, and in a
// build job (store/build_queue.h) that carries it to a builder.
std::string_view CleanWord(Project::Clean clean);
std::optional<Project::Clean> CleanFromWord(std::string_view word);

struct Server {
  std::string listen = "127.0.0.1:7070";              // API and web UI, "host:port"
  std::filesystem::path data_dir = "./anthill-data";  // relative: to the config file's dir
  std::string database;                               // empty: SQLite in data_dir
  std::string machine;                                // empty: the host name
  std::string token;                                  // required on mutating API calls when set
  int max_parallel_builds = 1;  // builds (fetch..release) at once, all projects
  // Host names (no port) the API and web UI answer to besides localhost, IP
  // addresses and this machine's name: the name of a reverse proxy or DNS
  // entry in front of Anthill. Others get 421 (a guard against DNS rebinding).
  std::vector<std::string> allowed_hosts;
  Roles roles;         // `roles`; default every role
  int roles_line = 0;  // the line of `roles` (its table's when absent), for messages
};

// [builder]: this process as a builder of a fleet (role "builder").
struct Builder {
  std::string name;                 // empty: the server's machine name
  std::vector<std::string> labels;  // what a project's build_labels may ask for
  int slots = 1;                    // builds at once
  // The orchestrator builders upload artifacts to (store = "orchestrator"):
  // its API's base URL, "http://host:port". Empty: this process's own
  // [server] listen, when it is the orchestrator too.
  std::string orchestrator;
};

// [artifacts]: where built releases are kept for the machines.
struct Artifacts {
  std::string store = "orchestrator";  // or "s3://bucket/prefix"
  std::string endpoint;                // S3: the server's base URL; required for s3://
  std::string region = "us-east-1";    // S3: the region requests are signed for
};

// [agent]: what `anthill agent -c FILE` runs with (README, "A fleet"); the
// command line's options override its keys. `anthill serve` ignores it, so
// one file may hold a machine's [server] and its [agent].
struct Agent {
  int line = 0;                      // the line of [agent]; 0 = the file has none
  std::vector<std::string> servers;  // the orchestrators' base URLs, tried in order
  std::string machine;               // empty: [server] machine (the host name)
  std::vector<std::string> labels;   // what the machine offers (projects' labels)
  std::filesystem::path data_dir;    // relative: to the config file's dir; empty: none
  // A file holding the agent's token (`anthill agents add` printed it);
  // ANTHILL_AGENT_TOKEN wins over it. Relative: to the config file's dir.
  std::filesystem::path token_file;
  int token_file_line = 0;
  std::map<std::string, std::string> env;  // as --env KEY=VALUE
};

struct Config {
  std::filesystem::path file;  // where it was read from
  std::filesystem::path dir;   // its directory (absolute): relative paths start here
  Server server;
  Builder builder;
  Artifacts artifacts;
  Agent agent;
  std::vector<Project> projects;

  const Project* FindProject(std::string_view name) const;
};

// Reads and validates a config file. Errors read
// "anthill.toml:12: unknown key 'bogus' in [[project]] 'hello'" and the like:
// file, line, key. ANTHILL_TOKEN in the environment overrides server.token.
// Relative data_dir and local repo paths ("./x", "../x") are resolved against
// the config file's directory; machine defaults to the host name.
Result<Config> Load(const std::filesystem::path& file);

// Same, from text; `file` is used in messages and to resolve relative paths.
Result<Config> Parse(std::string_view text, const std::filesystem::path& file);

}  // namespace anthill::config
