#include "agent/desired_poller.h"

#include <spdlog/spdlog.h>

#include "http/url.h"

namespace anthill::agent {

namespace asio = boost::asio;

namespace {

constexpr Duration kFirstBackoff{100};
constexpr Duration kMaxBackoff{5000};
constexpr Duration kFirstAuthBackoff{1000};
constexpr Duration kMaxAuthBackoff{30000};
// Past the wait, how long an answer may take before the orchestrator is
// taken for gone.
constexpr Duration kAnswerSlack{15000};
// An answer with nothing new that came well before its wait ran out: the
// orchestrator does not wait (an old one, or a stale one answering at once);
// asked again after this, not at once.
constexpr Duration kEarlyAnswerPause{1000};
// While polling fails, a warning at most this often.
constexpr auto kWarnEvery = std::chrono::seconds(60);

}  // namespace

std::string WaitText(Duration wait) {
  if (wait.count() % 1000 == 0) return std::to_string(wait.count() / 1000) + "s";
  return std::to_string(wait.count()) + "ms";
}

DesiredPoller::DesiredPoller(std::vector<std::string> servers, std::string machine,
                             std::string token, std::vector<std::string> labels, Duration wait,
                             int64_t generation, Stopping* stopping, OnDesired on_desired)
    : servers_(std::move(servers)),
      machine_(std::move(machine)),
      token_(std::move(token)),
      labels_(std::move(labels)),
      wait_(wait),
      generation_(generation),
      stopping_(stopping),
      on_desired_(std::move(on_desired)) {}

asio::awaitable<void> DesiredPoller::Run() {
  std::string labels;
  for (const std::string& l : labels_)
    labels += (labels.empty() ? "" : ",") + http::PercentEncode(l);
  Duration backoff = kFirstBackoff;
  Duration auth_backoff = kFirstAuthBackoff;
  bool failing = false;
  auto warned = std::chrono::steady_clock::now() - kWarnEvery;
  auto warn = [&](const std::string& what) {
    if (!failing || std::chrono::steady_clock::now() - warned >= kWarnEvery) {
      spdlog::warn("{}", what);
      warned = std::chrono::steady_clock::now();
    }
    failing = true;
  };
  while (!stopping_->stopped()) {
    const std::string url = current();
    std::string target = "/api/v1/agents/" + http::PercentEncode(machine_) +
                         "/desired?generation=" + std::to_string(generation_) +
                         "&wait=" + WaitText(wait_);
    if (!labels.empty()) target += "&labels=" + labels;
    const auto asked = std::chrono::steady_clock::now();
    asio::awaitable<Result<http::ClientResponse>> asking =
        stopping_->Fetch("GET", url, target, "", token_, wait_ + kAnswerSlack);
    const Result<http::ClientResponse> answer = co_await std::move(asking);
    if (stopping_->stopped()) break;
    const int status = answer.ok() ? answer->status : 0;
    if (status == 401 || status == 403) {
      spdlog::error(
          "the orchestrator at {} refuses this agent's token ({}: {}): {}; asking again "
          "in {}",
          url, status, answer->body,
          status == 401
              ? "set ANTHILL_AGENT_TOKEN to the token `anthill agents add " + machine_ + "` printed"
              : "it is the token of another machine than " + machine_,
          FormatDuration(auth_backoff));
      failing = true;
      co_await stopping_->Sleep(auth_backoff);
      auth_backoff = std::min(auth_backoff * 2, kMaxAuthBackoff);
      continue;
    }
    Result<deploy::DesiredState> state = Status::Error("no answer");
    if (status == 200) state = deploy::ParseDesiredState(answer->body);
    if (!state.ok()) {
      const std::string why = !answer.ok()    ? answer.error()
                              : status != 200 ? "answered " + std::to_string(status) + ": " +
                                                    answer->body.substr(0, 300)
                                              : state.error();
      warn("cannot get the desired state from " + url + ": " + why +
           (servers_.size() > 1 ? "; trying the next orchestrator" : "; trying again"));
      ++at_;
      co_await stopping_->Sleep(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
      continue;
    }
    if (failing) spdlog::info("the orchestrator at {} answers", url);
    failing = false;
    backoff = kFirstBackoff;
    auth_backoff = kFirstAuthBackoff;
    if (state->generation > generation_) {
      spdlog::info("desired state generation {} (from {})", state->generation, url);
      generation_ = state->generation;
      on_desired_(std::move(state.value()), answer->body);
      continue;
    }
    if (state->generation < generation_) {
      spdlog::warn("the orchestrator at {} answered generation {}, older than {}: ignored", url,
                   state->generation, generation_);
    }
    if (std::chrono::steady_clock::now() - asked < wait_ / 2) {
      co_await stopping_->Sleep(kEarlyAnswerPause);
    }
  }
}

}  // namespace anthill::agent
