// Main: the command line parsed (commands.cc), then the subcommand run:
// serve and check here, the others by asking the daemon (listings.cc,
// actions.cc, logs.cc).
#include "cli/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/actions.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/fleet_commands.h"
#include "cli/listings.h"
#include "cli/logs.h"
#include "config/config.h"
#include "daemon/daemon.h"

namespace anthill::cli {

int Main(int argc, char** argv) {
  CLI::App app{"Anthill: from git push to the new version running, with a record of every step.",
               "anthill"};
  app.require_subcommand(1);
  Options o;
  const Commands cmd = DefineCommands(app, o);

  auto command_names = [&] {
    std::string names;
    for (const CLI::App* c : app.get_subcommands({})) {
      names += (names.empty() ? "" : ", ") + c->get_name();
    }
    return names;
  };
  auto find_command = [&](const std::string& name) -> const CLI::App* {
    for (const CLI::App* c : app.get_subcommands({})) {
      if (c->get_name() == name) return c;
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

  if (cmd.help->parsed()) {
    // app.help() would show the help of the command given, `help` itself.
    const CLI::App* about = o.help_topic.empty() ? &app : find_command(o.help_topic);
    if (about == nullptr) {
      std::cerr << "anthill: no command '" << o.help_topic << "'; the commands: " << command_names()
                << "\n";
      return kExitUsage;
    }
    std::cout << app.get_formatter()->make_help(
        about, "anthill" + (about == &app ? "" : " " + o.help_topic), CLI::AppFormatMode::Normal);
    return 0;
  }
  if (cmd.version->parsed()) {
    if (o.as_json) {
      std::cout << nlohmann::json{{"version", ANTHILL_VERSION}}.dump() << "\n";
    } else {
      std::cout << "anthill " << ANTHILL_VERSION << "\n";
    }
    return 0;
  }

  // The agent reads no config file: it holds no database and watches no
  // repository; what it runs comes from the orchestrators.
  if (cmd.agent->parsed()) return RunAgentCommand(o);

  auto cfg = config::Load(o.config_path);
  if (!cfg.ok()) {
    std::cerr << "anthill: " << cfg.error() << "\n";
    return kExitConfig;
  }
  if (cmd.check->parsed()) {
    if (auto database = daemon::DatabaseOf(*cfg); !database.ok()) {
      std::cerr << "anthill: " << database.error() << "\n";
      return kExitConfig;
    }
    std::cout << o.config_path << ": ok, " << cfg->projects.size() << " project(s)";
    for (size_t i = 0; i < cfg->projects.size(); ++i) {
      std::cout << (i == 0 ? ": " : ", ") << cfg->projects[i].name;
    }
    std::cout << "\n";
    return 0;
  }
  if (cmd.serve->parsed()) {
    if (!o.roles.empty()) {
      auto roles = config::ParseRoles(o.roles);
      if (!roles.ok()) {
        std::cerr << "anthill: --role: " << roles.error() << "\n";
        return kExitUsage;
      }
      cfg->server.roles = *roles;
      cfg->server.roles_line = 0;  // from the command line, not the file
    }
    return daemon::Serve(*cfg);
  }
  if (cmd.status->parsed()) return ShowStatus(*cfg, o.as_json);
  if (cmd.deployments->parsed()) {
    return ShowDeployments(*cfg, o.project, o.status_filter, o.limit, o.as_json);
  }
  if (cmd.queue->parsed()) return ShowQueue(*cfg, o.as_json);
  if (cmd.agents_add->parsed()) return AddAgent(*cfg, o.agent_name, o.as_json);
  if (cmd.agents_revoke->parsed()) return RevokeAgent(*cfg, o.agent_name);
  if (cmd.agents->parsed()) return ShowAgents(*cfg, o.as_json);
  if (cmd.machines->parsed()) return ShowMachines(*cfg, o.as_json);
  if (cmd.logs->parsed()) {
    if (cmd.build_log->count() > 0) return ShowBuildLog(*cfg, o.project, o.build_id, o.follow);
    return ShowLog(*cfg, "/api/v1/projects/" + o.project + "/log", o.follow);
  }
  // Project names are [A-Za-z0-9._-]+: safe in a path as they are.
  const std::string actor = CurrentUser();
  const std::string project_api = "/api/v1/projects/" + o.project;
  if (cmd.deploy->parsed()) {
    return Act(*cfg, project_api + "/deploy", {{"ref", o.ref}, {"actor", actor}}, !o.no_wait,
               o.as_json);
  }
  if (cmd.rollback->parsed()) {
    return Act(*cfg, project_api + "/rollback", {{"version", o.to_version}, {"actor", actor}},
               !o.no_wait, o.as_json);
  }
  if (cmd.notify->parsed()) {
    return Act(*cfg, project_api + "/notify",
               {{"ref", o.ref}, {"commit", o.commit}, {"actor", actor}}, false, o.as_json);
  }
  if (cmd.stop->parsed() || cmd.start->parsed()) {
    return Act(*cfg, project_api + (cmd.stop->parsed() ? "/stop" : "/start"), {{"actor", actor}},
               false, o.as_json);
  }
  if (cmd.cancel->parsed()) return Cancel(*cfg, o.cancel_id, actor);
  return 0;
}

}  // namespace anthill::cli
