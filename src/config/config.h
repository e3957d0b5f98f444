// anthill.toml as plain structs. Only config/ knows TOML: everything else sees
// these validated values. Every field says its default.
// Thread: plain values.
#pragma once

#include <filesystem>
#include <map>
#include <string>
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
  std::vector<std::string> artifacts;      // paths copied into the release; empty = all but .git
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
  bool ready_notify = false;              // ready = "notify": wait for sd_notify READY=1
  int line = 0;                           // line of its [[project]] header, for messages
};

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
};

struct Config {
  std::filesystem::path file;  // where it was read from
  std::filesystem::path dir;   // its directory (absolute): relative paths start here
  Server server;
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
