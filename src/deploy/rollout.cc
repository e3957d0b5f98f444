#include "deploy/rollout.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "base/event.h"
#include "deploy/rollout_plan.h"

namespace anthill::deploy {

namespace asio = boost::asio;
using MS = store::MachineRolloutStatus;

namespace {

// How long a wait for reports goes without reading them again, even with
// no notification: the longest a missed one delays the rollout, and how
// soon a cancel is seen.
constexpr Duration kLookEvery{1000};

// "5 min", "90 s", "200 ms": a policy's duration as a person wrote it.
std::string Said(Duration d) {
  const int64_t ms = d.count();
  if (ms >= 60000 && ms % 60000 == 0) return std::to_string(ms / 60000) + " min";
  if (ms >= 1000 && ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return FormatDuration(d);
}

}  // namespace

struct Rollout::Machine {
  std::string name;
  // Its desired state of the project before this rollout: the JSON as
  // stored ("" for none), and parsed (nullopt for none, or unreadable).
  std::string before;
  std::optional<DesiredProject> before_parsed;
  store::DeploymentMachine row;
  std::string reported;          // the last report text seen
  TimePoint heard{};             // when it was asked, or last said something new
  int64_t asked_generation = 0;  // Await(fresh_only): its row's generation once asked
  bool judged = false;           // Await: `reported` was judged, and has not changed since
  // Silent past agent_timeout before the rollout began (down, or away): it
  // is told the end state at once and converges when it is back, but no
  // batch waits for it.
  bool absent = false;
};

Rollout::Rollout(store::AgentFleet* fleet, RolloutSpec spec, RolloutControls controls)
    : fleet_(fleet), spec_(std::move(spec)), controls_(std::move(controls)) {}

Rollout::~Rollout() = default;

std::string Rollout::Silent(const Machine& m) const {
  return "no answer from " + m.name + " for " + Said(spec_.policy.agent_timeout);
}

asio::awaitable<RolloutResult> Rollout::Run() {
  RolloutResult result;
  Status started = co_await Start();
  for (const Machine& m : machines_) result.targets.push_back(m.name);
  if (!started.ok()) {
    result.status = started;
    co_return result;
  }
  Status fetched = co_await Fetch();
  if (!fetched.ok()) {
    result.status = fetched;
    co_return result;
  }
  result.status = co_await Switch(result);
  co_return result;
}

// --- Targets -------------------------------------------------------------------

asio::awaitable<Status> Rollout::Start() {
  if (Cancelled()) co_return Status::Cancelled("cancelled before the rollout began");
  auto agents = co_await fleet_->Agents();
  if (!agents.ok()) co_return agents.status().Prefixed("reading the fleet's agents");
  const std::vector<store::AgentRow> targets = TargetsOf(*agents, spec_.machines, spec_.labels);
  if (targets.empty()) {
    co_return Status::NotFound(NoTargetsMessage(*agents, spec_.machines, spec_.labels));
  }
  std::string project = spec_.project;
  auto rows = co_await fleet_->DesiredOfProject(project);
  if (!rows.ok()) co_return rows.status().Prefixed("reading the machines' desired state");
  std::map<std::string, const store::DesiredRow*> by_machine;
  for (const auto& row : *rows) by_machine[row.machine] = &row;

  machines_.reserve(targets.size());  // Machine* below point into it
  std::vector<std::string> names;     // the ones answering, in batches
  std::vector<std::string> absent;    // the silent ones
  for (const auto& agent : targets) {
    Machine m;
    m.name = agent.name;
    m.row.deployment_id = spec_.deployment_id;
    m.row.machine = agent.name;
    m.row.status = MS::kWaiting;
    m.row.to_version = spec_.release.version;
    m.row.to_release = spec_.release.release;
    if (auto it = by_machine.find(agent.name); it != by_machine.end()) {
      const store::DesiredRow& row = *it->second;
      m.before = row.desired;
      if (!row.desired.empty()) {
        auto parsed = ParseDesiredProject(row.desired);
        if (parsed.ok()) {
          m.before_parsed = std::move(*parsed);
        } else {
          spdlog::warn("project {}: {}'s desired state cannot be read ({}): taken as none",
                       spec_.project, agent.name, parsed.error());
        }
      }
      m.reported = row.reported;
      if (!row.reported.empty()) {
        // What it runs now is where it starts from.
        if (auto report = ParseProjectReport(row.reported); report.ok()) {
          m.row.from_version = report->running_version;
          m.row.from_release = report->running_release;
        }
      }
    }
    // The database's clock says when it was last seen; on one clock with
    // this process within agent_timeout's margin.
    m.absent = !agent.last_seen_at || Now() - *agent.last_seen_at > spec_.policy.agent_timeout;
    if (m.absent) {
      absent.push_back(agent.name);
    } else {
      names.push_back(agent.name);
    }
    machines_.push_back(std::move(m));
  }
  if (names.empty()) {
    co_return Status::Unavailable("every target is silent (not heard from for more than " +
                                  Said(spec_.policy.agent_timeout) + "): " + JoinNames(absent));
  }
  const auto batches = Batches(names, spec_.policy);
  std::map<std::string, Machine*> present;
  for (Machine& m : machines_) {
    if (!m.absent) present[m.name] = &m;
  }
  for (size_t b = 0; b < batches.size(); ++b) {
    std::vector<Machine*> batch;
    for (const std::string& name : batches[b]) {
      Machine* m = present.at(name);
      m->row.batch = static_cast<int>(b + 1);
      batch.push_back(m);
    }
    batches_.push_back(std::move(batch));
  }
  spdlog::info("project {}: deployment {}: rolling out {} to {} in {} batch(es){}", spec_.project,
               spec_.deployment_id, spec_.release.version, JoinNames(names), batches_.size(),
               absent.empty() ? "" : "; silent, told to follow when back: " + JoinNames(absent));
  co_return Status::Ok();
}

// --- Phase 1: every target fetches the release ---------------------------------

asio::awaitable<Status> Rollout::Fetch() {
  co_await TellTheAbsent();
  std::vector<Machine*> all;
  for (Machine& m : machines_) {
    if (m.absent) continue;
    m.row.status = MS::kFetching;
    m.row.started_at = Now();
    all.push_back(&m);
  }
  co_await Record(all);
  const Desire fetch = [this](const Machine& m) { return ToFetch(m); };
  Status asked = co_await SetDesired(all, fetch);
  std::string failure;
  bool settled = asked.ok();
  if (!asked.ok()) {
    failure = "setting the machines' desired state: " + asked.message();
  } else {
    const std::string key = spec_.release.artifact_key;
    const Settle settle = [&](Machine& m, const ProjectReport& r) {
      const FetchState f = FetchOf(r, spec_.release.release);
      if (f.kind == FetchState::kPending) return false;
      if (f.kind == FetchState::kFetched) {
        m.row.status = MS::kFetched;
        return true;
      }
      m.row.status = MS::kFailed;
      m.row.error = "artifact " + key + ": " + (f.error.empty() ? "failed" : f.error);
      m.row.finished_at = Now();
      if (failure.empty()) failure = m.name + ": " + m.row.error;
      return true;
    };
    const Lost lost = [&](Machine& m) {
      m.row.status = MS::kLost;
      m.row.error = Silent(m) + " (fetching " + key + ")";
      m.row.finished_at = Now();
      if (failure.empty()) failure = m.row.error;
    };
    // One failure is enough: no machine will switch.
    const std::function<bool()> enough = [&] { return !failure.empty(); };
    settled = co_await Await(all, settle, lost, enough, false);
  }
  if (settled && failure.empty()) co_return Status::Ok();

  // Nothing switched: each machine's desired state goes back to what it
  // was, and the rows not ended say why they stop here.
  const std::string why = settled ? "the rollout stopped before any switch (" + failure + ")"
                                  : "cancelled before any machine switched";
  std::vector<Machine*> ended;
  for (Machine& m : machines_) {
    if (m.absent) {
      m.row.error = "silent, and the rollout stopped before any switch: it keeps what it had";
      ended.push_back(&m);
      continue;
    }
    if (m.row.status == MS::kFailed || m.row.status == MS::kLost) continue;
    m.row.status = MS::kSkipped;
    m.row.error = why;
    m.row.finished_at = Now();
    ended.push_back(&m);
  }
  co_await Record(ended);
  if (asked.ok()) co_await PutBack();
  if (!settled) co_return Status::Cancelled("cancelled before any machine switched");
  co_return Status::Error(failure + "; no machine was switched");
}

// --- Phase 2: batch by batch ---------------------------------------------------

asio::awaitable<Status> Rollout::Switch(RolloutResult& result) {
  std::vector<Machine*> switched;
  for (size_t b = 0; b < batches_.size(); ++b) {
    const std::vector<Machine*>& batch = batches_[b];
    const std::string of =
        "batch " + std::to_string(b + 1) + " of " + std::to_string(batches_.size());
    if (Cancelled()) {
      if (b > 0) co_return Status::Cancelled("stopped before " + of);
      // Before the first switch a cancel still means "keep what runs".
      std::vector<Machine*> skipped;
      for (Machine& m : machines_) {
        if (m.absent) continue;
        m.row.status = MS::kSkipped;
        m.row.error = "cancelled before any machine switched";
        m.row.finished_at = Now();
        skipped.push_back(&m);
      }
      co_await Record(skipped);
      co_await PutBack();
      co_return Status::Cancelled("cancelled before any machine switched");
    }
    if (b == 0 && controls_.switching) controls_.switching();
    std::vector<std::string> names;
    for (Machine* m : batch) {
      names.push_back(m->name);
      m->row.status = MS::kSwitching;
    }
    co_await Record(batch);
    spdlog::info("project {}: deployment {}: {}: {} switch to {}", spec_.project,
                 spec_.deployment_id, of, JoinNames(names), spec_.release.version);
    const Desire run = [this](const Machine& m) { return ToRun(m); };
    Status asked = co_await SetDesired(batch, run);
    std::string failure;
    if (!asked.ok()) {
      // Not applied: this batch did not switch.
      failure = "setting the desired state of " + JoinNames(names) + ": " + asked.message();
      for (Machine* m : batch) {
        m->row.status = MS::kSkipped;
        m->row.error = failure;
        m->row.finished_at = Now();
      }
      co_await Record(batch);
    } else {
      result.switched = true;
      switched.insert(switched.end(), batch.begin(), batch.end());
      const Settle settle = [this](Machine& m, const ProjectReport& r) {
        const RunState run = RunOf(r, spec_.deployment_id, spec_.release.release);
        if (run.kind == RunState::kSucceeded) {
          m.row.status = MS::kSucceeded;
        } else if (run.kind == RunState::kFailed) {
          m.row.status = MS::kFailed;
          m.row.error = run.error.empty() ? "its switch failed" : run.error;
        } else {
          return false;
        }
        m.row.finished_at = Now();
        return true;
      };
      const Lost lost = [this](Machine& m) {
        m.row.status = MS::kLost;
        m.row.error = Silent(m);
        m.row.finished_at = Now();
      };
      // The whole batch ends (each succeeds, fails or is lost) before the
      // next step: every row then says what happened to its machine.
      const bool ended = co_await Await(batch, settle, lost, nullptr, false);
      if (!ended) {
        co_return Status::Cancelled("stopped during " + of + " (the machines switched keep " +
                                    spec_.release.version + ")");
      }
      for (Machine* m : batch) {
        if (m->row.status == MS::kSucceeded) continue;
        if (!failure.empty()) failure += "; ";
        failure += m->row.status == MS::kLost ? m->row.error : m->name + ": " + m->row.error;
      }
    }
    if (failure.empty()) {
      if (b + 1 == batches_.size() || spec_.policy.pause.count() <= 0) continue;
      const bool paused = co_await Pause();
      if (!paused) co_return Status::Cancelled("stopped after " + of);
      continue;
    }

    // A failure: later batches are not touched.
    std::vector<std::string> later;
    std::vector<Machine*> not_switched;
    for (size_t l = b + 1; l < batches_.size(); ++l) {
      for (Machine* m : batches_[l]) {
        later.push_back(m->name);
        m->row.status = MS::kSkipped;
        m->row.error = "the rollout stopped at " + of;
        m->row.finished_at = Now();
        not_switched.push_back(m);
      }
    }
    co_await Record(not_switched);
    if (spec_.policy.on_failure == config::Rollout::OnFailure::kHalt) {
      std::vector<std::string> running;
      for (Machine* m : switched) {
        if (m->row.status == MS::kSucceeded) running.push_back(m->name);
      }
      std::string what = failure + "; halted (on_failure = halt)";
      if (!running.empty()) what += ": " + JoinNames(running) + " run " + spec_.release.version;
      if (!later.empty()) what += "; not switched: " + JoinNames(later);
      co_return Status::Error(what);
    }
    // The silent ones were told the new release: what they had before is
    // what they are to run when they are back.
    co_await PutBackAbsent();
    Status back = co_await GoBack(switched, failure, result);
    co_return back;
  }
  spdlog::info("project {}: deployment {}: every machine runs {}", spec_.project,
               spec_.deployment_id, spec_.release.version);
  co_return Status::Ok();
}

// --- After a failure: the switched machines go back ----------------------------

asio::awaitable<Status> Rollout::GoBack(const std::vector<Machine*>& switched,
                                        const std::string& failure, RolloutResult& result) {
  std::vector<Machine*> back;     // each returns to the run it had before
  std::vector<Machine*> nothing;  // ran nothing before: left as it is
  for (Machine* m : switched) {
    (m->before_parsed && m->before_parsed->run ? back : nothing).push_back(m);
  }
  std::string what = failure;
  const Desire before = [this](const Machine& m) -> std::optional<DesiredProject> {
    DesiredProject d = *m.before_parsed;
    d.deployment_id = spec_.deployment_id;
    d.rollback = true;
    return d;
  };
  Status asked = co_await SetDesired(back, before);
  if (!asked.ok()) co_return Status::Error(what + "; rolling back failed: " + asked.message());
  std::vector<std::string> going;
  for (Machine* m : back) going.push_back(m->name);
  spdlog::info("project {}: deployment {}: {}: rolling back {}", spec_.project, spec_.deployment_id,
               failure, JoinNames(going));
  const Settle settle = [this](Machine& m, const ProjectReport& r) {
    const AgentRelease& to = *m.before_parsed->run;
    const RunState run = RunOf(r, spec_.deployment_id, to.release);
    if (run.kind == RunState::kSucceeded) {
      m.row.status = MS::kRolledBack;
    } else if (run.kind == RunState::kFailed) {
      m.row.status = MS::kFailed;
      m.row.error += (m.row.error.empty() ? "" : "; ") + std::string("going back to ") +
                     to.version + " failed" + (run.error.empty() ? "" : ": " + run.error);
    } else {
      return false;
    }
    m.row.finished_at = Now();
    return true;
  };
  const Lost lost = [this](Machine& m) {
    // Its desired state says where to go: it goes there when it is back.
    const std::string why = "no answer for " + Said(spec_.policy.agent_timeout) +
                            " while going back to " + m.before_parsed->run->version +
                            " (it goes back when it returns)";
    m.row.error += (m.row.error.empty() ? "" : "; ") + why;
    m.row.status = MS::kLost;
    m.row.finished_at = Now();
  };
  // A report older than the rollback's desired state says nothing of it.
  const bool ended = co_await Await(back, settle, lost, nullptr, true);
  if (!ended) {
    co_return Status::Cancelled(what + "; stopped while rolling back");
  }
  std::vector<std::string> rolled;
  std::string left;
  for (Machine* m : back) {
    if (m->row.status == MS::kRolledBack) {
      rolled.push_back(m->name);
    } else {
      left += "; " + m->name +
              (m->row.status == MS::kLost ? " did not answer: it goes back to " +
                                                m->before_parsed->run->version + " when it returns"
                                          : ": " + m->row.error);
    }
  }
  if (!rolled.empty()) what += "; rolled back " + JoinNames(rolled);
  what += left;
  if (!nothing.empty()) {
    std::vector<std::string> names;
    for (Machine* m : nothing) names.push_back(m->name);
    what += "; " + JoinNames(names) + " had nothing of " + spec_.project +
            " to go back to (left with " + spec_.release.version + " as its desired run)";
  }
  result.rolled_back = left.empty() && nothing.empty();
  co_return Status::Error(what);
}

// --- The silent machines ------------------------------------------------------

asio::awaitable<void> Rollout::TellTheAbsent() {
  std::vector<Machine*> absent;
  for (Machine& m : machines_) {
    if (m.absent) absent.push_back(&m);
  }
  if (absent.empty()) co_return;
  const Desire end_state = [this](const Machine& m) { return ToRun(m); };
  Status asked = co_await SetDesired(absent, end_state);
  for (Machine* m : absent) {
    m->row.status = MS::kLost;
    m->row.error = asked.ok()
                       ? "not heard from for more than " + Said(spec_.policy.agent_timeout) +
                             ": it gets " + spec_.release.version + " when it is back"
                       : "silent, and its desired state could not be set: " + asked.message();
    m->row.started_at = Now();
    m->row.finished_at = Now();
  }
  co_await Record(absent);
}

asio::awaitable<void> Rollout::PutBackAbsent() {
  std::vector<store::DesiredChange> changes;
  for (const Machine& m : machines_) {
    if (m.absent) changes.push_back({m.name, spec_.project, m.before});
  }
  if (changes.empty()) co_return;
  Status set = co_await fleet_->SetDesired(std::move(changes));
  if (!set.ok()) {
    spdlog::warn("project {}: deployment {}: the silent machines' desired state stays {}: {}",
                 spec_.project, spec_.deployment_id, spec_.release.version, set.message());
  }
}

// --- Parts ---------------------------------------------------------------------

std::optional<DesiredProject> Rollout::ToFetch(const Machine& m) const {
  // What it had stays (run, program): it only gets the release to hold.
  DesiredProject d = m.before_parsed.value_or(DesiredProject{});
  d.project = spec_.project;
  d.deployment_id = spec_.deployment_id;
  d.fetch = {spec_.release};
  return d;
}

std::optional<DesiredProject> Rollout::ToRun(const Machine& m) const {
  std::optional<DesiredProject> d = ToFetch(m);
  d->run = spec_.release;
  d->rollback = spec_.rollback;
  d->program = spec_.program;
  return d;
}

asio::awaitable<Status> Rollout::SetDesired(const std::vector<Machine*>& machines,
                                            const Desire& desired) {
  // Made once per text before: a batch of 1,000 machines that ran the same
  // release is one JSON text, not 1,000.
  std::unordered_map<std::string, std::string> made;
  std::vector<store::DesiredChange> changes;
  for (Machine* m : machines) {
    auto [it, fresh] = made.try_emplace(m->before);
    if (fresh) {
      std::optional<DesiredProject> d = desired(*m);
      it->second = d ? ToJson(*d) : "";
    }
    changes.push_back({m->name, spec_.project, it->second});
  }
  if (changes.empty()) co_return Status::Ok();
  Status set = co_await fleet_->SetDesired(std::move(changes));
  co_return set;
}

asio::awaitable<bool> Rollout::Await(const std::vector<Machine*>& machines, const Settle& settle,
                                     const Lost& lost, const std::function<bool()>& enough,
                                     bool fresh_only) {
  std::vector<Machine*> open = machines;
  std::unordered_map<std::string, Machine*> open_by_name;
  const TimePoint asked = Now();
  for (Machine* m : open) {
    m->heard = asked;
    m->asked_generation = -1;
    m->judged = false;
    open_by_name[m->name] = m;
  }
  std::string store_error;  // logged once per new text
  const std::string project = spec_.project;
  // The first read has every open machine's row; each later one only the
  // rows whose report changed since (10,000 machines in phase 1 report a
  // few hundred at a time).
  int64_t since = 0;
  for (;;) {
    const int64_t mark = fleet_->ReportedMark(project);
    std::vector<std::string> names;
    if (since == 0) {
      for (const Machine* m : open) names.push_back(m->name);
    }
    auto read = co_await fleet_->ReportsOf(project, std::move(names), since);
    std::vector<Machine*> settled;
    std::unordered_set<const Machine*> ended;
    if (read.ok()) {
      since = read->next;
      for (const store::DesiredRow& row : read->rows) {
        auto it = open_by_name.find(row.machine);
        if (it == open_by_name.end()) continue;
        Machine* m = it->second;
        // The first read after the change has its generation (or a newer one).
        if (m->asked_generation < 0) m->asked_generation = row.generation;
        if (row.reported != m->reported) {
          m->reported = row.reported;
          m->heard = Now();
          m->judged = false;
        }
        // A report judged and not changed since is not parsed again.
        if (m->reported.empty() || m->judged) continue;
        m->judged = true;
        auto report = ParseProjectReport(m->reported);
        if (!report.ok()) continue;
        if (fresh_only && report->generation < m->asked_generation) continue;
        if (settle(*m, *report) && ended.insert(m).second) settled.push_back(m);
      }
    } else if (read.error() != store_error) {
      store_error = read.error();
      spdlog::warn("project {}: deployment {}: reading the machines' reports: {}", spec_.project,
                   spec_.deployment_id, store_error);
    }
    const TimePoint now = Now();
    for (Machine* m : open) {
      if (ended.contains(m)) continue;
      if (now - m->heard >= spec_.policy.agent_timeout) {
        lost(*m);
        ended.insert(m);
        settled.push_back(m);
      }
    }
    if (!ended.empty()) {
      std::erase_if(open, [&](Machine* m) { return ended.contains(m); });
      for (const Machine* m : settled) open_by_name.erase(m->name);
    }
    co_await Record(settled);
    if (open.empty() || (enough && enough())) co_return true;
    if (Cancelled()) co_return false;
    Duration wait = kLookEvery;
    for (Machine* m : open) {
      const auto left =
          std::chrono::duration_cast<Duration>(m->heard + spec_.policy.agent_timeout - now);
      wait = std::min(wait, left);
    }
    wait = std::max(wait, Duration(1));
    co_await fleet_->WaitReported(project, mark, wait);
  }
}

asio::awaitable<void> Rollout::PutBack() {
  // The very text it had: level-triggered, the agent just finds what it
  // already has and runs.
  std::vector<store::DesiredChange> changes;
  for (const Machine& m : machines_) changes.push_back({m.name, spec_.project, m.before});
  Status restored = co_await fleet_->SetDesired(std::move(changes));
  if (!restored.ok()) {
    spdlog::warn("project {}: deployment {}: putting the machines' desired state back: {}",
                 spec_.project, spec_.deployment_id, restored.message());
  }
}

asio::awaitable<void> Rollout::Record(Machine& m) {
  const std::vector<Machine*> one = {&m};
  co_await Record(one);
}

asio::awaitable<void> Rollout::Record(const std::vector<Machine*>& machines) {
  if (machines.empty()) co_return;
  std::vector<store::DeploymentMachine> rows;
  for (const Machine* m : machines) rows.push_back(m->row);
  Status recorded = co_await fleet_->RecordMachines(std::move(rows));
  if (!recorded.ok()) {
    std::vector<std::string> names;
    for (const Machine* m : machines) names.push_back(m->name);
    spdlog::warn("project {}: deployment {}: recording the part of {}: {}", spec_.project,
                 spec_.deployment_id, JoinNames(names), recorded.message());
  }
}

asio::awaitable<bool> Rollout::Pause() {
  const TimePoint end = Now() + spec_.policy.pause;
  for (TimePoint now = Now(); now < end; now = Now()) {
    if (Cancelled()) co_return false;
    const Duration nap = std::min(kLookEvery, std::chrono::duration_cast<Duration>(end - now));
    co_await SleepFor(nap);
  }
  co_return !Cancelled();
}

}  // namespace anthill::deploy
