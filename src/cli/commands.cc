#include "cli/commands.h"

#include <CLI/CLI.hpp>
#include <vector>

#include "store/records.h"

namespace anthill::cli {

namespace {

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

}  // namespace

Commands DefineCommands(CLI::App& app, Options& o) {
  // A command that reads the config file: all but version and help.
  auto command = [&](const char* name, const char* description) {
    CLI::App* cmd = app.add_subcommand(name, description);
    cmd->add_option("-c,--config", o.config_path, "config file")->capture_default_str();
    return cmd;
  };
  // A command about one project: `anthill NAME PROJECT`.
  auto project_command = [&](const char* name, const char* description) {
    CLI::App* cmd = command(name, description);
    cmd->add_option("project", o.project, "the project")->required();
    return cmd;
  };
  auto add_json = [&](CLI::App* cmd) { cmd->add_flag("--json", o.as_json, "print JSON"); };

  Commands c;
  c.serve = command("serve", "watch, build, deploy and serve the API");
  c.serve
      ->add_option("--role", o.roles,
                   "this process's roles instead of [server] roles: orchestrator, builder, agent "
                   "(repeat it or separate with commas)")
      ->delimiter(',')
      ->type_name("ROLE");
  c.check = command("check", "validate the config file and exit");
  c.status = command("status", "each project's running version and state");
  add_json(c.status);
  c.deployments = command("deployments", "recent deployments, newest first");
  c.deployments->add_option("project", o.project, "only this project");
  c.deployments->add_option("--status", o.status_filter, "only this status")
      ->type_name("STATUS")
      ->check(OneOf(DeploymentStatusWords(), "a deployment status"));
  c.deployments->add_option("--limit", o.limit, "how many")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  add_json(c.deployments);
  c.deploy = project_command("deploy", "deploy a ref's current commit now, by hand");
  c.deploy->add_option("--ref", o.ref, "branch, tag or refs/... (default: the project's rule)");
  c.rollback = project_command("rollback", "go back to the previous good release");
  c.rollback->add_option("--to", o.to_version, "this version (label or release dir) instead");
  for (CLI::App* cmd : {c.deploy, c.rollback}) {  // they follow the deployment they make
    cmd->add_flag("--no-wait", o.no_wait, "return once queued");
    add_json(cmd);
  }
  c.notify = project_command("notify", "tell the daemon a push happened (post-receive hook)");
  c.notify->add_option("--ref", o.ref, "the pushed ref (refs/heads/main)");
  c.notify->add_option("--commit", o.commit, "the pushed commit (40 hex)");
  add_json(c.notify);
  c.cancel = command("cancel", "cancel a queued or building deployment");
  c.cancel->add_option("id", o.cancel_id, "the deployment id")->required();
  c.stop = project_command("stop", "stop a project's program on purpose (stays stopped)");
  c.start = project_command("start", "start a project's program again");
  c.logs = project_command("logs", "a project's program log, or a deployment's build log");
  c.logs->add_flag("-f,--follow", o.follow, "keep printing what is appended");
  c.build_log =
      c.logs
          ->add_option("--build", o.build_id,
                       "deployment ID's fetch/build/test log instead (no ID: the latest's)")
          ->expected(0, 1)
          ->type_name("[ID]")
          ->check(DeploymentId());
  c.queue = command("queue", "running and waiting deployments");
  add_json(c.queue);
  c.agent = app.add_subcommand("agent",
                               "run this machine's agent of a fleet (its token in "
                               "ANTHILL_AGENT_TOKEN or [agent] token_file)");
  c.agent->add_option("-c,--config", o.agent_config,
                      "a file whose [agent] section gives what the options below do not");
  c.agent->add_option("--server", o.servers, "the orchestrators' API URLs (http://host:port)")
      ->delimiter(',')
      ->type_name("URL[,URL...]");
  c.agent->add_option("--machine", o.machine,
                      "this machine's agent name (default: the name its token starts with)");
  c.agent->add_option("--labels", o.labels, "what this machine offers (a project's labels)")
      ->delimiter(',')
      ->type_name("LABEL[,LABEL...]");
  c.agent->add_option("--data-dir", o.data_dir, "where releases, logs and state are kept");
  c.agent
      ->add_option("--env", o.agent_env,
                   "KEY=VALUE added to every program's environment, and ${KEY} in a project's "
                   "env and health check (repeatable)")
      ->type_name("KEY=VALUE")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            const size_t eq = v.find('=');
            if (eq == std::string::npos || eq == 0) return "'" + v + "' is not KEY=VALUE";
            return "";
          },
          ""));
  c.agents = command("agents", "the fleet's agents: list, add NAME, revoke NAME");
  add_json(c.agents);
  c.agents_add = c.agents->add_subcommand("add", "register an agent and print its token");
  c.agents_add->add_option("name", o.agent_name, "the machine's name")->required();
  c.agents_revoke = c.agents->add_subcommand("revoke", "refuse an agent's token from now on");
  c.agents_revoke->add_option("name", o.agent_name, "the machine's name")->required();
  // `anthill agents add web-1 -c prod.toml`: the parent's options after the name.
  c.agents_add->fallthrough();
  c.agents_revoke->fallthrough();
  c.machines = command("machines", "the fleet's machines and what each runs");
  add_json(c.machines);
  c.version = app.add_subcommand("version", "print anthill's version");
  add_json(c.version);
  c.help = app.add_subcommand("help", "this help, or a command's (anthill help deploy)");
  c.help->add_option("command", o.help_topic, "a command");
  return c;
}

}  // namespace anthill::cli
