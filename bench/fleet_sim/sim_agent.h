// One simulated agent: the real agent's protocol over HTTP (its own token,
// the desired-state long poll, reports with ids retried until acknowledged,
// failing over between orchestrators) with no programs: a switch is a step
// sequence (stop, start, healthcheck) that takes `start_time` plus the
// project's min_healthy_time; a download is a GET of the artifact whose
// SHA-256 is checked (agents chosen to verify) or nothing at all.
//
// Like the real agent it keeps what it knows across lives (the highest
// generation seen, what it has and runs, its unacknowledged report): Kill()
// ends a life at once (its requests abandoned, as if the process died) and
// Start() begins the next, which reports the dead life's open steps as
// interrupted and sends the report it was sending again, with the same id.
//
// Thread: the simulator's one io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"
#include "deploy/agent_protocol.h"
#include "sim_stats.h"

namespace anthill::agent {
class Stopping;
}

namespace anthill::sim {

struct SimOptions {
  // "http://host:port": each agent begins at one chosen by its name's hash
  // (agents spread over them), then tries the next when one fails.
  std::vector<std::string> servers;
  Duration start_time{2000};  // a switch's simulated start
  Duration poll_wait{30000};
  Duration report_every{10000};                 // states re-sent after this long unsent (+-1/5)
  std::chrono::steady_clock::time_point epoch;  // the simulator's start (stats' zero)
  // This simulator run's, random: in every step key and report id, so that
  // a second run's agents (of the same names) are never taken for the
  // first's (a report id applied before is acknowledged and ignored).
  std::string run_id;
};

class SimAgent {
 public:
  // `source`: the loopback address this machine connects from, its own as
  // a real machine's would be (json_client.h says why).
  SimAgent(boost::asio::any_io_executor executor, std::string machine, std::string token,
           std::string source, bool verify, const SimOptions* options, SimStats* stats);
  ~SimAgent();

  void Start();  // a new life
  void Kill();   // the life ends now
  bool alive() const { return life_ != nullptr; }
  const std::string& machine() const { return machine_; }
  // What it runs of `project` ("" for nothing): its release dir name.
  std::string Running(const std::string& project) const;

 private:
  struct Life;
  struct ProjectState {
    std::set<std::string> fetched;
    std::map<std::string, std::string> fetch_failed;
    std::optional<deploy::AgentRelease> running;
    TimePoint since{};
    int64_t run_deployment_id = 0;
    std::string run_release;
    std::string run_status;
  };

  boost::asio::awaitable<void> Poll(std::shared_ptr<Life> life);
  // A request that got no 200: counted, the next server's turn, a pause of
  // `backoff` (doubled for next time, up to 5 s). True when the life ended.
  boost::asio::awaitable<bool> Failed(std::shared_ptr<Life> life, Duration& backoff);
  boost::asio::awaitable<void> Work(std::shared_ptr<Life> life);
  boost::asio::awaitable<void> Report(std::shared_ptr<Life> life);
  boost::asio::awaitable<void> Reconcile(std::shared_ptr<Life> life, deploy::DesiredState desired);
  boost::asio::awaitable<bool> Download(std::shared_ptr<Life> life, const deploy::AgentRelease& r);

  std::string StepStarted(Life& life, int64_t deployment_id, store::StepName name);
  void StepEnded(Life& life, const std::string& key, store::StepStatus status,
                 const std::string& error = "");
  void QueueStates();
  std::string NextServer();

  boost::asio::any_io_executor executor_;
  std::string machine_;
  std::string token_;
  std::string source_;
  bool verify_;
  const SimOptions* options_;
  SimStats* stats_;
  size_t server_;

  // Kept across lives, as the real agent keeps them on disk.
  int64_t generation_ = 0;
  std::optional<deploy::DesiredState> desired_;
  std::map<std::string, ProjectState> projects_;
  std::map<std::string, store::AgentStep> pending_steps_;  // by key, newest change
  bool states_dirty_ = true;
  std::optional<store::AgentReport> in_flight_;         // sent, not acknowledged yet
  std::map<std::string, store::AgentStep> open_steps_;  // started, not ended
  int lives_ = 0;
  int64_t reports_made_ = 0;

  std::shared_ptr<Life> life_;
};

}  // namespace anthill::sim
