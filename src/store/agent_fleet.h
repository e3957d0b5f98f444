// The agents of a fleet as the orchestrators keep them (README, "A fleet"):
// who may act as which machine (a token, of which only the SHA-256 is kept),
// what each machine is to run (its desired state, one row per project, under
// a per-machine generation that grows with every change), what each machine
// last reported of it, every step an agent reported (rows of the record's
// `steps`, with the machine), and each machine's part in a deployment.
// pg_agent_fleet.h keeps it in PostgreSQL; agents themselves never connect to
// the database: they reach it through an orchestrator's API.
//
// The desired state and the reported state are JSON texts whose shape
// deploy/agent_protocol.h defines; this store keeps them as given.
//
// Parameters are taken by value: a call may outlive the caller's
// temporaries while it is suspended (async_record_store.h says more).
//
// Thread: plain values; an AgentFleet is called on its io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/records.h"

namespace anthill::store {

// An agent as registered (`anthill agents add`). Times are the database
// server's clock.
struct AgentRow {
  std::string name;                 // the machine's name, [A-Za-z0-9._-]+
  std::vector<std::string> labels;  // as the agent last said them
  TimePoint created_at{};
  std::optional<TimePoint> revoked_at;    // set: its token is refused
  std::optional<TimePoint> last_seen_at;  // its last poll or report
  int64_t generation = 0;                 // of its desired state
};

// One project's desired state on one machine, and what the machine last
// reported of that project.
struct DesiredRow {
  std::string machine;
  std::string project;
  int64_t generation = 0;  // the machine's generation when this row last changed
  std::string desired;     // JSON (deploy::DesiredProject); "" when only reported
  std::string reported;    // JSON (deploy::ProjectReport); "" when none yet
  std::optional<TimePoint> reported_at;
};

// A change of desired state: `desired` "" removes the project from the machine.
struct DesiredChange {
  std::string machine;
  std::string project;
  std::string desired;
};

// A step an agent ran, started or ended. `key` is the agent's own name for
// the step ("web-1/5f3c.../7"): the first report of a key makes the step
// row, a later one updates it, so a report sent twice changes nothing.
struct AgentStep {
  std::string key;
  int64_t deployment_id = 0;
  StepName name = StepName::kUnknown;
  StepStatus status = StepStatus::kRunning;
  TimePoint started_at{};
  std::optional<TimePoint> finished_at;
  std::string error;
};

// What one POST of an agent carries. `id` is the agent's and unique to it:
// the same report applied twice changes the store once.
struct AgentReport {
  std::string id;
  std::vector<AgentStep> steps;
  std::vector<std::pair<std::string, std::string>> states;  // project -> JSON ProjectReport
};

// A machine's part in one deployment (GET /api/v1/deployments/{id}).
enum class MachineRolloutStatus {
  kWaiting,     // in a later batch
  kFetching,    // phase 1: downloading
  kFetched,     // phase 1 done on this machine
  kSwitching,   // phase 2: stop, start, health
  kSucceeded,   // runs the new release and stayed healthy
  kFailed,      // failed to fetch, start or stay healthy
  kLost,        // silent past agent_timeout
  kRolledBack,  // went back to the release it ran before
  kSkipped,     // the rollout halted before its batch
  // Its orchestrator stopped (killed, or its lease lost) before this
  // machine's part ended; the deployment is interrupted, and the next
  // holder's "finishing" deployment takes the machine on.
  kInterrupted,
};
inline constexpr std::pair<MachineRolloutStatus, std::string_view> kMachineRolloutStatusWords[] = {
    {MachineRolloutStatus::kWaiting, "waiting"},
    {MachineRolloutStatus::kFetching, "fetching"},
    {MachineRolloutStatus::kFetched, "fetched"},
    {MachineRolloutStatus::kSwitching, "switching"},
    {MachineRolloutStatus::kSucceeded, "succeeded"},
    {MachineRolloutStatus::kFailed, "failed"},
    {MachineRolloutStatus::kLost, "lost"},
    {MachineRolloutStatus::kRolledBack, "rolled back"},
    {MachineRolloutStatus::kSkipped, "skipped"},
    {MachineRolloutStatus::kInterrupted, "interrupted"},
};
constexpr std::string_view ToString(MachineRolloutStatus s) {
  for (const auto& [status, word] : kMachineRolloutStatusWords) {
    if (status == s) return word;
  }
  return "failed";
}
constexpr std::optional<MachineRolloutStatus> ParseMachineRolloutStatus(std::string_view word) {
  for (const auto& [status, w] : kMachineRolloutStatusWords) {
    if (w == word) return status;
  }
  return std::nullopt;
}

struct DeploymentMachine {
  int64_t deployment_id = 0;
  std::string machine;
  int batch = 0;  // 1-based; 0 before batches are made
  MachineRolloutStatus status = MachineRolloutStatus::kWaiting;
  std::string from_version;  // what it ran before ("" for nothing)
  std::string to_version;
  std::string from_release;
  std::string to_release;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::string error;
};

class AgentFleet {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  virtual ~AgentFleet() = default;

  // --- Identity ----------------------------------------------------------
  // Registers `name` with the token whose SHA-256 (64 lowercase hex) is
  // given. A name registered before and revoked gets the new token and is
  // no longer revoked; one registered and not revoked is kConflict.
  virtual Awaitable<Status> AddAgent(std::string name, std::string token_sha256) = 0;
  // Refuses the agent's token from now on; kNotFound for an unknown name.
  virtual Awaitable<Status> RevokeAgent(std::string name) = 0;
  // True when `name` is registered, not revoked, and its token hashes to
  // `token_sha256` (compared in constant time).
  virtual Awaitable<Result<bool>> CheckToken(std::string name, std::string token_sha256) = 0;
  // Every registered agent, revoked ones too, by name.
  virtual Awaitable<Result<std::vector<AgentRow>>> Agents() = 0;
  // The agent asked or reported now: last_seen_at, and its labels.
  virtual Awaitable<Status> Seen(std::string name, std::vector<std::string> labels) = 0;

  // --- Desired state -----------------------------------------------------
  // Applies the changes in one transaction: each machine touched gets its
  // generation raised by one, and each changed row that generation; then
  // notifies (WaitDesired wakes, in every orchestrator).
  virtual Awaitable<Status> SetDesired(std::vector<DesiredChange> changes) = 0;
  // The machine's generation and rows (desired or reported), by project.
  // An unknown machine is generation 0 and no rows.
  virtual Awaitable<Result<std::pair<int64_t, std::vector<DesiredRow>>>> DesiredOf(
      std::string machine) = 0;
  // Every machine's row of `project`, by machine.
  virtual Awaitable<Result<std::vector<DesiredRow>>> DesiredOfProject(std::string project) = 0;
  // The reports of `project` a rollout waits on: with `since` 0 the rows
  // of `machines` (every machine when empty), else only rows whose report
  // may have changed since the read that returned `since` as its `next`
  // (a rollout over 10,000 machines reads the few hundred that reported,
  // not 10,000 each time). A row may come again unchanged; none changed is
  // left out. Rows carry machine, project, generation and reported only.
  struct ReportsRead {
    std::vector<DesiredRow> rows;  // in no order
    int64_t next = 0;              // `since` for the next read
  };
  virtual Awaitable<Result<ReportsRead>> ReportsOf(std::string project,
                                                   std::vector<std::string> machines,
                                                   int64_t since) = 0;
  // Every row of every machine, by machine then project (one read for a
  // listing of all machines).
  virtual Awaitable<Result<std::vector<DesiredRow>>> AllDesired() = 0;
  // Returns once the machine's generation may be above `after`, or max_wait
  // passed (the caller reads again: a wake-up may be spurious): true; false
  // at once when the store is stopping (no wait will be woken any more).
  virtual Awaitable<bool> WaitDesired(std::string machine, int64_t after, Duration max_wait) = 0;

  // --- Reports -----------------------------------------------------------
  // Applies `report` of `machine` in one transaction, once per report id:
  // its steps into `steps` (with the machine; a step's deployment must
  // exist, else that step is dropped and logged), its states into the
  // machine's rows' `reported`, last_seen_at; then notifies (WaitReported
  // wakes, in every orchestrator).
  virtual Awaitable<Status> ApplyReport(std::string machine, AgentReport report) = 0;
  // A mark of the reports about `project` this process has heard of (applied
  // here or notified): taken before reading the reports, it is what
  // WaitReported compares with, so that one applied between the read and
  // the wait is not slept through.
  virtual int64_t ReportedMark(const std::string& project) = 0;
  // Returns once a report about `project` may have been applied since
  // `mark` was taken (at once when it already was), or max_wait passed.
  virtual Awaitable<void> WaitReported(std::string project, int64_t mark, Duration max_wait) = 0;

  // --- A deployment's machines ---------------------------------------------
  // Makes or replaces the rows (deployment_id, machine), all in one write
  // (a batch of a rollout over 10,000 machines changes 1,000 rows at once);
  // of two rows with one key, the later wins.
  virtual Awaitable<Status> RecordMachines(std::vector<DeploymentMachine> rows) = 0;
  Awaitable<Status> RecordMachine(DeploymentMachine row) {
    std::vector<DeploymentMachine> rows;
    rows.push_back(std::move(row));
    co_return co_await RecordMachines(std::move(rows));
  }
  // A deployment's machines, by batch then machine.
  virtual Awaitable<Result<std::vector<DeploymentMachine>>> MachinesOf(int64_t deployment_id) = 0;
};

}  // namespace anthill::store
