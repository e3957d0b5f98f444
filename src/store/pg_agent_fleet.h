// A fleet's agents (agent_fleet.h) in PostgreSQL 15, beside the record, the
// build queue and project ownership in the same database: tables agents,
// agent_desired, agent_reports and deployment_machines, and the columns
// machine and agent_key of steps (migration 5, pg_schema.cc), on pooled
// connections driven on the loop (PgPool).
//
// Choices of its own:
// - Every write that changes a machine's desired state or reports takes its
//   agents row FOR UPDATE first, so SetDesired and ApplyReport of one
//   machine run one after the other, and a generation is never read half
//   made. Machines are locked in name order: no two callers wait crosswise.
// - SetDesired on a machine that is not registered is kNotFound (its
//   generation lives in its agents row), and nothing of the call is applied.
//   A change to the desired text a row already has is no change: a machine
//   none of whose rows changed keeps its generation and is not notified.
// - A row with neither a desired nor a reported state is deleted.
// - ApplyReport: reports are queued and applied many to a transaction
//   (pg_agent_reports.h), each with the meaning it has alone; one the
//   database refuses is tried again alone, so it fails by itself.
//   A report id already applied changes nothing but the
//   agent's last_seen_at; an empty id is kInvalidArgument. Ids are kept
//   Options::keep_reports, then pruned. A step's first report makes its row
//   (machine and agent_key set, times the agent's); a later one with the
//   same key updates status, finished_at and error when it is an end, so a
//   finished step never goes back to running, whatever order the reports
//   come in. A step of a deployment with no row is dropped (and logged),
//   the rest applied. A key another machine made is left alone.
// - Notifications, sent in the transaction of the write, on
//   kPgAgentsChannel: "desired:<machine>" when its generation grew (or it
//   was revoked, with "revoked:<machine>"),
//   "reported:<project>" for each project a report's states or steps were
//   about; and on the record's channel (kPgChangesChannel)
//   "deployment:<id>" for each deployment a step or a machine's part of it
//   changed, so the live UI shows agents' steps as it shows local ones.
// - Waits: a listener of its own (pg_listen_loop.h) on kPgAgentsChannel
//   wakes the waits of the machine or project named, and a write of this
//   object wakes them at once after its commit, without the round trip.
//   Every wait is woken each time LISTEN takes effect (what was sent before
//   is lost). WaitDesired reads the generation after it starts waiting, so
//   a change committed just before the call is not slept through.
//   WaitReported has its mark (ReportedMark, taken before the caller's read),
//   which every wake-up about the project moves.
// - A token found good is kept in memory for 60 s while LISTEN is in
//   effect, and forgotten when the agent's "revoked:" notification comes
//   (RevokeAgent sends it beside "desired:", which wakes its polls) or
//   LISTEN is taken anew: a poll or report is then no query. Seen writes last_seen_at at most every
//   10 s per agent while its labels stay the same. (At 10,000 agents these checks and writes were
//   most of the database's work.)
// - DesiredOf calls made while a read is under way are read together, in
//   one statement, when it ends (polls woken by one batch's switch).
// - Waits are filed by machine or project, so a notification wakes its
//   own without going through every long poll parked.
// - Text goes through PgValidText: bytes that are not UTF-8 are stored as
//   U+FFFD, never refused.
//
// Thread: the io_context thread of the executor it was opened with. It must
// outlive every call in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/batch_queue.h"
#include "base/status.h"
#include "base/time.h"
#include "store/agent_fleet.h"
#include "store/pg_pool.h"

namespace anthill::store {

// The channel desired states and reports are notified on.
inline constexpr char kPgAgentsChannel[] = "anthill_agents";

class PgAgentFleet final : public AgentFleet {
 public:
  struct Options {
    // Connections of its pool: each agent polls and reports every few
    // seconds, and an orchestrator serves many agents.
    size_t connections = 2;
    // How long a report's id is kept after it was applied: the same report
    // sent again later than that would be applied again.
    Duration keep_reports = std::chrono::hours(24 * 7);
  };

  // Connects to `conninfo` (PgConnection::Connect's forms), brings the
  // schema up to date (MigratePgSchema) and starts listening for other
  // orchestrators' changes. Errors as PgRecordStore::Open's, prefixed
  // "agent fleet".
  static Awaitable<Result<std::unique_ptr<PgAgentFleet>>> Open(
      boost::asio::any_io_executor executor, std::string conninfo, Options options);

  // Stops (see Stop).
  ~PgAgentFleet() override;
  PgAgentFleet(const PgAgentFleet&) = delete;
  PgAgentFleet& operator=(const PgAgentFleet&) = delete;

  // Ends listening and wakes every wait; a wait begun after it returns at
  // once. Reads and writes still work. The listening coroutine ends the
  // next time the io_context runs it.
  void Stop();

  Awaitable<Status> AddAgent(std::string name, std::string token_sha256) override;
  Awaitable<Status> RevokeAgent(std::string name) override;
  Awaitable<Result<bool>> CheckToken(std::string name, std::string token_sha256) override;
  Awaitable<Result<std::vector<AgentRow>>> Agents() override;
  Awaitable<Status> Seen(std::string name, std::vector<std::string> labels) override;

  Awaitable<Status> SetDesired(std::vector<DesiredChange> changes) override;
  Awaitable<Result<std::pair<int64_t, std::vector<DesiredRow>>>> DesiredOf(
      std::string machine) override;
  Awaitable<Result<std::vector<DesiredRow>>> DesiredOfProject(std::string project) override;
  Awaitable<Result<ReportsRead>> ReportsOf(std::string project, std::vector<std::string> machines,
                                           int64_t since) override;
  Awaitable<Result<std::vector<DesiredRow>>> AllDesired() override;
  Awaitable<bool> WaitDesired(std::string machine, int64_t after, Duration max_wait) override;

  Awaitable<Status> ApplyReport(std::string machine, AgentReport report) override;
  int64_t ReportedMark(const std::string& project) override;
  Awaitable<void> WaitReported(std::string project, int64_t mark, Duration max_wait) override;

  Awaitable<Status> RecordMachines(std::vector<DeploymentMachine> rows) override;
  Awaitable<Result<std::vector<DeploymentMachine>>> MachinesOf(int64_t deployment_id) override;

  const Options& options() const { return options_; }
  // True while LISTEN is in effect on a live connection.
  bool listening() const;
  // How many times LISTEN took effect (1, then one more per reconnect).
  int64_t listens() const;
  // Waits parked until woken or their time is up (past WaitDesired's read).
  // For tests and diagnostics.
  size_t parked() const;

 private:
  // Shared with the listening loop (pg_listen_loop.h) and the waits.
  struct State;

  PgAgentFleet(boost::asio::any_io_executor executor, std::string conninfo, Options options);
  // Runs one statement on a pooled connection; its error is prefixed
  // "agent fleet: <what>".
  Awaitable<Result<PgResult>> Run(const std::string& what, const std::string& sql,
                                  const PgParams& params);
  void StartListening();

  // Reports, polls' reads and "seen" writes are each done many at a time
  // (base/batch_queue.h): 10,000 polls answered at once come back at once.
  struct Pending;
  struct PendingRead;
  struct PendingSeen;
  // Applies a batch of reports in one transaction (pg_agent_reports.h).
  Awaitable<void> WriteReports(std::vector<std::shared_ptr<Pending>>& taken);
  // Between batches of reports: gathers a steady stream for a moment.
  Awaitable<void> GatherReports(size_t queued);
  // Reads a batch of DesiredOf machines in one statement.
  Awaitable<void> ReadDesiredStates(std::vector<std::shared_ptr<PendingRead>>& taken);
  // DesiredOf's read, queued; without rows, the generation alone.
  Awaitable<Result<std::pair<int64_t, std::vector<DesiredRow>>>> ReadQueued(std::string machine,
                                                                            bool with_rows);
  // Writes a batch of Seen agents in one statement.
  Awaitable<void> WriteSeen(std::vector<std::shared_ptr<PendingSeen>>& taken);

  PgPool pool_;
  Options options_;
  std::shared_ptr<State> state_;  // shared with the listening coroutine and the waits
  BatchQueue<Pending> reports_;
  BatchQueue<PendingRead> reads_;
  BatchQueue<PendingSeen> seen_;
  int64_t report_batches_ = 0;
};

}  // namespace anthill::store
