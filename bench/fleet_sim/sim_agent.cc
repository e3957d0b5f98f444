#include "sim_agent.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "agent/stopping.h"
#include "artifact/digest.h"
#include "base/event.h"
#include "http/url.h"
#include "store/records.h"

namespace anthill::sim {

namespace asio = boost::asio;

namespace {

// "poll: HTTP 503", "report: timed out": what failed and how, without the
// URL or the server's words, so that failures add up by kind.
template <typename Got>
std::string FailureOf(const std::string& what, const Got& got) {
  if (!got.ok()) return what + ": " + std::string(ToString(got.status().code()));
  return what + ": HTTP " + std::to_string(got->status);
}

}  // namespace

using Clock = std::chrono::steady_clock;

struct SimAgent::Life {
  explicit Life(asio::any_io_executor ex, int n)
      : number(n), stopping(std::make_unique<agent::Stopping>(ex)), work(ex), report(ex) {}
  int number;
  std::unique_ptr<agent::Stopping> stopping;
  Event work;    // a newer desired state came
  Event report;  // something to report
  bool changed = false;
  int64_t next_step = 1;
  bool stopped() const { return stopping->stopped(); }
};

SimAgent::SimAgent(asio::any_io_executor executor, std::string machine, std::string token,
                   std::string source, bool verify, const SimOptions* options, SimStats* stats)
    : executor_(std::move(executor)),
      machine_(std::move(machine)),
      token_(std::move(token)),
      source_(std::move(source)),
      verify_(verify),
      options_(options),
      stats_(stats),
      // Agents spread over the orchestrators, each failing over from its own.
      server_(std::hash<std::string>{}(machine_) % options_->servers.size()) {}

SimAgent::~SimAgent() { Kill(); }

void SimAgent::Start() {
  if (life_) return;
  life_ = std::make_shared<Life>(executor_, ++lives_);
  life_->stopping->SetSource(source_);
  // The last life's open steps: it died in them.
  for (auto& [key, step] : open_steps_) {
    step.status = store::StepStatus::kInterrupted;
    step.finished_at = Now();
    step.error = "the agent stopped during the step";
    pending_steps_[key] = step;
  }
  open_steps_.clear();
  life_->changed = desired_.has_value();
  states_dirty_ = true;
  for (auto loop : {&SimAgent::Poll, &SimAgent::Work, &SimAgent::Report}) {
    asio::co_spawn(executor_, (this->*loop)(life_), asio::detached);
  }
  life_->report.Set();
  if (life_->changed) life_->work.Set();
}

void SimAgent::Kill() {
  if (!life_) return;
  life_->stopping->Stop();
  life_->work.Set();
  life_->report.Set();
  life_.reset();
}

std::string SimAgent::Running(const std::string& project) const {
  auto it = projects_.find(project);
  return it == projects_.end() || !it->second.running ? "" : it->second.running->release;
}

std::string SimAgent::NextServer() {
  server_ = (server_ + 1) % options_->servers.size();
  return options_->servers[server_];
}

asio::awaitable<bool> SimAgent::Failed(std::shared_ptr<Life> life, Duration& backoff) {
  ++stats_->requests_failed;
  NextServer();
  const bool stopped = co_await life->stopping->Sleep(backoff);
  backoff = std::min(backoff * 2, Duration(5000));
  co_return stopped;
}

asio::awaitable<void> SimAgent::Poll(std::shared_ptr<Life> life) {
  Duration backoff{100};
  const std::string wait = std::to_string(options_->poll_wait.count()) + "ms";
  while (!life->stopped()) {
    const std::string target = "/api/v1/agents/" + machine_ +
                               "/desired?generation=" + std::to_string(generation_) +
                               "&wait=" + wait;
    const auto began = Clock::now();
    const std::string server = options_->servers[server_];
    auto got = co_await life->stopping->Fetch("GET", server, target, "", token_,
                                              options_->poll_wait + Duration(15000));
    if (life->stopped()) co_return;
    if (!got.ok() || got->status != 200) {
      stats_->failures[FailureOf("poll", got)]++;
      if (co_await Failed(life, backoff)) co_return;
      continue;
    }
    backoff = Duration(100);
    stats_->bytes_received += static_cast<int64_t>(got->body.size());
    auto state = deploy::ParseDesiredState(got->body);
    if (!state.ok() || state->generation <= generation_) {
      stats_->poll_unchanged.Add(Clock::now() - began);
      continue;
    }
    stats_->poll_changed.Add(Clock::now() - began);
    generation_ = state->generation;
    desired_ = std::move(*state);
    life->changed = true;
    life->work.Set();
  }
}

asio::awaitable<void> SimAgent::Work(std::shared_ptr<Life> life) {
  while (!life->stopped()) {
    if (!life->changed) {
      life->work.Reset();
      co_await life->work.Wait(kUntilWoken);
      continue;
    }
    life->changed = false;
    const deploy::DesiredState desired = *desired_;
    co_await Reconcile(life, desired);
  }
}

asio::awaitable<bool> SimAgent::Download(std::shared_ptr<Life> life,
                                         const deploy::AgentRelease& r) {
  if (!verify_ || desired_->artifacts.store != "orchestrator") co_return true;
  const auto began = Clock::now();
  const std::string server = options_->servers[server_];
  auto got = co_await life->stopping->Fetch("GET", server, "/api/v1/artifacts/" + r.artifact_key,
                                            "", token_, Duration(120000));
  if (life->stopped()) co_return false;
  if (!got.ok() || got->status != 200) {
    ++stats_->requests_failed;
    stats_->failures[FailureOf("download", got)]++;
    NextServer();
    co_return false;
  }
  stats_->download.Add(Clock::now() - began);
  stats_->bytes_received += static_cast<int64_t>(got->body.size());
  artifact::Sha256 sha;
  sha.Update(got->body.data(), got->body.size());
  if (sha.HexDigest() != r.sha256) {
    ++stats_->checksum_mismatches;
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> SimAgent::Reconcile(std::shared_ptr<Life> life,
                                          deploy::DesiredState desired) {
  for (const deploy::DesiredProject& d : desired.projects) {
    ProjectState& p = projects_[d.project];
    std::vector<deploy::AgentRelease> needed = d.fetch;
    if (d.run) needed.push_back(*d.run);
    for (const deploy::AgentRelease& r : needed) {
      if (p.fetched.count(r.release)) continue;
      const std::string step = StepStarted(*life, d.deployment_id, store::StepName::kDownload);
      const bool ok = co_await Download(life, r);
      if (life->stopped()) co_return;
      if (ok) {
        p.fetched.insert(r.release);
        p.fetch_failed.erase(r.release);
        StepEnded(*life, step, store::StepStatus::kSucceeded);
      } else {
        p.fetch_failed[r.release] = "download failed";
        StepEnded(*life, step, store::StepStatus::kFailed, "download failed");
      }
      QueueStates();
      life->report.Set();
    }
    if (!d.run) continue;
    if (p.running && p.running->release == d.run->release) {
      if (p.run_deployment_id != d.deployment_id || p.run_status != "succeeded") {
        p.run_deployment_id = d.deployment_id;
        p.run_release = d.run->release;
        p.run_status = "succeeded";
        QueueStates();
        life->report.Set();
      }
      continue;
    }
    if (!p.fetched.count(d.run->release)) continue;  // its failure is reported
    p.run_deployment_id = d.deployment_id;
    p.run_release = d.run->release;
    p.run_status = "switching";
    QueueStates();
    life->report.Set();
    const double begin_s = std::chrono::duration<double>(Clock::now() - options_->epoch).count();
    for (store::StepName name : {store::StepName::kStop, store::StepName::kStart}) {
      StepEnded(*life, StepStarted(*life, d.deployment_id, name), store::StepStatus::kSucceeded);
    }
    p.running = *d.run;
    p.since = Now();
    const std::string health = StepStarted(*life, d.deployment_id, store::StepName::kHealthcheck);
    life->report.Set();
    const Duration up = options_->start_time + d.program.health.min_healthy_time;
    if (co_await life->stopping->Sleep(up)) co_return;
    StepEnded(*life, health, store::StepStatus::kSucceeded);
    p.run_status = "succeeded";
    ++stats_->runs_done;
    const double end_s = std::chrono::duration<double>(Clock::now() - options_->epoch).count();
    stats_->runs[d.deployment_id].push_back({begin_s, end_s});
    QueueStates();
    life->report.Set();
  }
}

std::string SimAgent::StepStarted(Life& life, int64_t deployment_id, store::StepName name) {
  store::AgentStep s;
  s.key = machine_ + "/" + options_->run_id + "-" + std::to_string(life.number) + "/" +
          std::to_string(life.next_step++);
  s.deployment_id = deployment_id;
  s.name = name;
  s.status = store::StepStatus::kRunning;
  s.started_at = Now();
  open_steps_[s.key] = s;
  pending_steps_[s.key] = s;
  return s.key;
}

void SimAgent::StepEnded(Life& life, const std::string& key, store::StepStatus status,
                         const std::string& error) {
  auto it = open_steps_.find(key);
  if (it == open_steps_.end()) return;
  store::AgentStep s = it->second;
  open_steps_.erase(it);
  s.status = status;
  s.finished_at = Now();
  s.error = error;
  pending_steps_[key] = s;
  life.report.Set();
}

void SimAgent::QueueStates() { states_dirty_ = true; }

asio::awaitable<void> SimAgent::Report(std::shared_ptr<Life> life) {
  Duration backoff{100};
  // As the agent does (agent.cc, PeriodicLoop): the states again when
  // nothing was sent for report_every, give or take a fifth.
  const bool periodic = options_->report_every.count() > 0;
  auto next_due = Clock::now() + Jittered(options_->report_every, 0.2);
  while (!life->stopped()) {
    const bool due = periodic && Clock::now() >= next_due;
    if (!in_flight_ && pending_steps_.empty() && !states_dirty_ && !due) {
      life->report.Reset();
      const Duration wait =
          periodic
              ? std::max(Duration(1), std::chrono::duration_cast<Duration>(next_due - Clock::now()))
              : kUntilWoken;
      co_await life->report.Wait(wait);
      continue;
    }
    if (!in_flight_) {
      store::AgentReport r;
      r.id = machine_ + "/" + options_->run_id + "/" + std::to_string(++reports_made_);
      for (auto& [key, step] : pending_steps_) r.steps.push_back(step);
      pending_steps_.clear();
      for (const auto& [project, p] : projects_) {
        deploy::ProjectReport pr;
        pr.project = project;
        pr.generation = generation_;
        pr.fetched.assign(p.fetched.begin(), p.fetched.end());
        pr.fetch_failed = p.fetch_failed;
        pr.run_deployment_id = p.run_deployment_id;
        pr.run_release = p.run_release;
        pr.run_status = p.run_status;
        if (p.running) {
          pr.running_release = p.running->release;
          pr.running_version = p.running->version;
          pr.running_commit = p.running->commit;
          pr.pid = 1000 + static_cast<int64_t>(std::hash<std::string>{}(machine_) % 30000);
          pr.health = "healthy";
          pr.since = p.since;
        } else {
          pr.health = "unknown";
        }
        r.states.push_back({project, deploy::ToJson(pr)});
      }
      states_dirty_ = false;
      in_flight_ = std::move(r);
    }
    const std::string body = deploy::ToJson(*in_flight_);
    const std::string id = in_flight_->id;
    const std::string server = options_->servers[server_];
    const auto began = Clock::now();
    ++stats_->reports_sent;
    auto got = co_await life->stopping->Fetch(
        "POST", server, "/api/v1/agents/" + machine_ + "/reports", body, token_, Duration(30000));
    if (life->stopped()) co_return;
    if (!got.ok() || got->status != 200) {
      stats_->failures[FailureOf("report", got)]++;
      if (co_await Failed(life, backoff)) co_return;
      continue;
    }
    backoff = Duration(100);
    stats_->report.Add(Clock::now() - began);
    stats_->bytes_received += static_cast<int64_t>(got->body.size());
    if (!stats_->reports_acked.insert(id).second) ++stats_->reports_acked_twice;
    if (in_flight_ && in_flight_->id == id) in_flight_.reset();
    next_due = Clock::now() + Jittered(options_->report_every, 0.2);
  }
}

}  // namespace anthill::sim
