// `anthill agent`: the process on each machine of a fleet that runs the
// projects' programs (README, "A fleet"). It holds no database connection:
// it asks an orchestrator for its machine's desired state (a long poll,
// desired_poller.h), makes it so (project_agent.h: download, check, unpack,
// swap, roll back), and reports every step and state back (reporter.h),
// until each report is acknowledged, across its own restarts and the
// orchestrators'.
//
// What it must not forget is on disk, in its data dir:
//   agent.lock             one agent per data dir
//   agent.db               the desired state, the outbox (agent_db.h)
//   machine.db             what runs (store::MachineStore), read when it
//                          re-adopts its programs after a restart
//   projects/<p>/releases/ the releases, `current`
//   logs/app/<p>.log       the programs' output
//   run/<p>.notify         NOTIFY_SOCKET of the newest start
//   tmp/                   downloads under way (emptied at start-up)
// Its programs keep running while it is down; a new life re-adopts them
// (by pid and start time) exactly as `anthill serve` does.
//
// Thread: the calling thread of RunAgent becomes the io_context thread; an
// Agent and everything it owns belong to the thread running its executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "deploy/agent_protocol.h"

namespace anthill::os {
class FileLock;
}
namespace anthill::store {
class LocalStore;
}

namespace anthill::agent {

struct AgentSettings {
  // The orchestrators' API, "http://host:port", tried in order (--server
  // URL[,URL...]).
  std::vector<std::string> servers;
  // This machine's name, as registered (`anthill agents add NAME`).
  std::string machine;
  // What the machine offers, for projects' `labels` (--labels a,b).
  std::vector<std::string> labels;
  // Where the agent keeps its state, releases and logs (--data-dir).
  std::filesystem::path data_dir;
  // Machine-specific values (--env KEY=VALUE): in every program's
  // environment, and ${KEY} in a project's env values, health check target
  // and listen addresses.
  std::map<std::string, std::string> env;
  // The agent's token (ANTHILL_AGENT_TOKEN).
  std::string token;
  // How long an orchestrator may hold a poll for the desired state.
  Duration poll_wait{30000};
  // How often each project's state (what runs, its health) is reported
  // when nothing else changes.
  Duration report_every{10000};
};

// Whether the settings can be used: at least one server, each
// "http://host:port"; a machine name of [A-Za-z0-9._-]; a data dir;
// with `need_token`, a token. kInvalidArgument naming what is wrong.
Status CheckSettings(const AgentSettings& settings, bool need_token);

// Runs the agent until SIGTERM or SIGINT; its programs keep running.
// Returns the process exit code: 0 after a stop, 2 for unusable settings, 1
// when it cannot start (the data dir in use by another agent, unwritable);
// the reason is printed to stderr.
int RunAgent(const AgentSettings& settings);

class ProjectAgent;
class AgentDb;
class AgentSteps;
class DesiredPoller;
class Reporter;
class Stopping;
struct AgentContext;

// One agent on a given executor (RunAgent's, or a test's loop). Destroy it
// only once that loop no longer runs: coroutines of its own (the
// supervisors' loops) may still be suspended on it after done().
class Agent {
 public:
  Agent(boost::asio::any_io_executor executor, AgentSettings settings);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Checks the settings, makes the data dir, takes its lock, opens the
  // agent's files. Errors say which and why.
  Status Open();
  // Re-adopts what a previous life left running, reports the steps it left
  // unfinished as interrupted, converges towards the desired state kept on
  // disk, then polls and reports until Shutdown().
  // REQUIRES: Open() succeeded.
  void Start();
  // Stops polling and reporting; a swap under way ends first. Programs keep
  // running, reports not yet delivered stay in the outbox for the next life.
  void Shutdown();
  // True once Shutdown() has taken effect and nothing of the agent is in
  // flight (an abandoned request's own deadline ends it later).
  bool done() const;

  // The highest desired generation seen, in this life or a previous one.
  int64_t generation() const;

 private:
  boost::asio::awaitable<void> Main();
  boost::asio::awaitable<void> PeriodicLoop();
  // Hands each project its part of `state`.
  void Apply(const deploy::DesiredState& state);
  ProjectAgent& ProjectOf(const std::string& name);
  void Spawn(boost::asio::awaitable<void> loop);

  boost::asio::any_io_executor executor_;
  AgentSettings settings_;
  std::unique_ptr<os::FileLock> lock_;
  std::unique_ptr<store::LocalStore> machine_store_;
  std::unique_ptr<AgentDb> db_;
  std::unique_ptr<Stopping> stopping_;
  std::unique_ptr<AgentSteps> steps_;
  std::unique_ptr<Reporter> reporter_;
  std::unique_ptr<DesiredPoller> poller_;
  std::unique_ptr<AgentContext> ctx_;
  std::map<std::string, std::unique_ptr<ProjectAgent>> projects_;
  bool started_ = false;
  bool recovered_ = false;  // the projects' Run loops may start
  bool shutting_down_ = false;
  int loops_ = 0;
};

}  // namespace anthill::agent
