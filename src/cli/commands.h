// The anthill subcommands and their options as CLI11 parses them: names,
// help texts, and the checks that run while parsing (a wrong --status word or
// deployment id is a usage error before the daemon is asked).
// Thread: the main thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace anthill::cli {

// What the command line said: the options write into it while parsing.
struct Options {
  std::string config_path = "anthill.toml";  // -c, --config (every command that reads it)
  bool as_json = false;                      // --json
  std::string project;                       // PROJECT
  std::string status_filter;                 // deployments --status
  int limit = 20;                            // deployments --limit
  std::string ref;                           // deploy --ref, notify --ref
  std::string commit;                        // notify --commit
  std::string to_version;                    // rollback --to
  bool no_wait = false;                      // deploy, rollback --no-wait
  int64_t cancel_id = 0;                     // cancel ID
  bool follow = false;                       // logs -f, --follow
  std::string build_id;                      // logs --build [ID]; empty alone: the latest
  std::string help_topic;                    // help [COMMAND]
  std::vector<std::string> roles;            // serve --role (replaces [server] roles)
  std::string agent_name;                    // agents add|revoke NAME
  // anthill agent
  std::string agent_config;            // -c, --config: its [agent] section
  std::vector<std::string> servers;    // --server URL[,URL...]
  std::string machine;                 // --machine NAME
  std::vector<std::string> labels;     // --labels a,b
  std::string data_dir;                // --data-dir DIR
  std::vector<std::string> agent_env;  // --env KEY=VALUE, repeatable
};

// The subcommands, to ask which one was given (parsed()); owned by the app.
struct Commands {
  CLI::App* serve = nullptr;
  CLI::App* check = nullptr;
  CLI::App* status = nullptr;
  CLI::App* deployments = nullptr;
  CLI::App* deploy = nullptr;
  CLI::App* rollback = nullptr;
  CLI::App* notify = nullptr;
  CLI::App* cancel = nullptr;
  CLI::App* stop = nullptr;
  CLI::App* start = nullptr;
  CLI::App* logs = nullptr;
  CLI::App* queue = nullptr;
  CLI::App* agent = nullptr;       // run this machine's agent
  CLI::App* agents = nullptr;      // list; with its subcommands:
  CLI::App* agents_add = nullptr;  // issue an agent's token
  CLI::App* agents_revoke = nullptr;
  CLI::App* machines = nullptr;  // what each agent runs
  CLI::App* version = nullptr;
  CLI::App* help = nullptr;
  CLI::Option* build_log = nullptr;  // logs --build: count() > 0 when given
};

// Adds every subcommand to `app`, in the order `anthill help` lists them.
// Their options write into `o`, which must outlive the parse.
Commands DefineCommands(CLI::App& app, Options& o);

}  // namespace anthill::cli
