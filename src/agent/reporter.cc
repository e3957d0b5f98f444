#include "agent/reporter.h"

#include <spdlog/spdlog.h>

#include <map>

#include "deploy/agent_protocol.h"
#include "http/url.h"

namespace anthill::agent {

namespace asio = boost::asio;

namespace {

constexpr int kBatch = 100;
constexpr Duration kFirstBackoff{100};
constexpr Duration kMaxBackoff{5000};
constexpr Duration kPostTimeout{30000};
// While delivery fails, a warning at most this often.
constexpr auto kWarnEvery = std::chrono::seconds(60);

}  // namespace

store::AgentReport Batch(const std::string& agent_id, const std::vector<AgentDb::Item>& items) {
  store::AgentReport report;
  std::map<std::string, size_t> step_at;   // key -> index in report.steps
  std::map<std::string, size_t> state_at;  // project -> index in report.states
  for (const AgentDb::Item& item : items) {
    for (const store::AgentStep& step : item.part.steps) {
      auto [it, added] = step_at.emplace(step.key, report.steps.size());
      if (added) {
        report.steps.push_back(step);
      } else {
        report.steps[it->second] = step;
      }
    }
    for (const auto& state : item.part.states) {
      auto [it, added] = state_at.emplace(state.first, report.states.size());
      if (added) {
        report.states.push_back(state);
      } else {
        report.states[it->second] = state;
      }
    }
  }
  if (!items.empty()) {
    report.id =
        agent_id + "/" + std::to_string(items.front().id) + "-" + std::to_string(items.back().id);
  }
  return report;
}

Reporter::Reporter(asio::any_io_executor executor, std::vector<std::string> servers,
                   std::string machine, std::string token, AgentDb* db, Stopping* stopping)
    : servers_(std::move(servers)),
      machine_(std::move(machine)),
      token_(std::move(token)),
      db_(db),
      stopping_(stopping),
      wake_(std::move(executor)) {}

asio::awaitable<void> Reporter::Run() {
  const std::string target = "/api/v1/agents/" + http::PercentEncode(machine_) + "/reports";
  Duration backoff = kFirstBackoff;
  size_t at = 0;  // the orchestrator asked now
  bool failing = false;
  auto warned = std::chrono::steady_clock::now() - kWarnEvery;
  while (!stopping_->stopped()) {
    auto items = db_->Oldest(kBatch);
    if (!items.ok()) {
      spdlog::error("cannot read the reports to send: {}", items.error());
      co_await stopping_->Sleep(kMaxBackoff);
      continue;
    }
    if (items->empty()) {
      wake_.Reset();
      co_await wake_.Wait(kUntilWoken);
      continue;
    }
    const store::AgentReport report = Batch(db_->id(), *items);
    const std::string& url = servers_[at % servers_.size()];
    asio::awaitable<Result<http::ClientResponse>> posting =
        stopping_->Fetch("POST", url, target, deploy::ToJson(report), token_, kPostTimeout);
    const Result<http::ClientResponse> answer = co_await std::move(posting);
    if (stopping_->stopped()) break;
    const int status = answer.ok() ? answer->status : 0;
    if (status == 200 || status == 400 || status == 413 || status == 422) {
      if (status != 200) {
        spdlog::error("the orchestrator at {} refused report {} for good ({}: {}): dropped", url,
                      report.id, status, answer->body);
      } else if (failing) {
        spdlog::info("reports are delivered again (to {})", url);
      }
      Status s = db_->Acknowledge(items->back().id);
      if (!s.ok()) spdlog::error("cannot forget report {}: {}", report.id, s.message());
      ++delivered_;
      failing = false;
      backoff = kFirstBackoff;
      continue;
    }
    std::string why =
        answer.ok() ? "answered " + std::to_string(status) + ": " + answer->body : answer.error();
    if (status == 401 || status == 403) {
      why += status == 401 ? " (the agent token is refused: is ANTHILL_AGENT_TOKEN right?)"
                           : " (the agent token is for another machine than " + machine_ + ")";
    }
    if (!failing || std::chrono::steady_clock::now() - warned >= kWarnEvery) {
      spdlog::warn("report {} not delivered to {}: {}; trying again", report.id, url, why);
      warned = std::chrono::steady_clock::now();
    }
    failing = true;
    ++at;  // the next orchestrator of the list, if there is another
    co_await stopping_->Sleep(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace anthill::agent
