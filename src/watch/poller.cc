#include "watch/poller.h"

#include <algorithm>

namespace anthill::watch {

namespace asio = boost::asio;

Poller::Poller(asio::any_io_executor executor, git::Git* git, PollRule rule)
    : git_(git),
      rule_(std::move(rule)),
      rng_(std::random_device{}()),
      wake_(std::make_unique<Event>(std::move(executor))) {}

std::string Poller::RuleRef() const {
  return rule_.tags.empty() ? "refs/heads/" + rule_.branch : "";
}

std::string Poller::RefOfVersion(const std::string& version) const {
  return rule_.tags.empty() ? RuleRef() : "refs/tags/" + version;
}

void Poller::PollNow(store::Trigger trigger, const std::string& actor) {
  next_trigger_ = trigger;
  next_actor_ = actor;
  wake_->Set();
}

void Poller::Stop() {
  stopping_ = true;
  wake_->Set();
}

Duration Poller::NextDelay() {
  // Jitter (+-10%) keeps many projects, or many machines, from polling one
  // git server in lockstep. A failing remote is asked less and less often.
  double base = static_cast<double>(rule_.every.count());
  int doublings = std::min(failures_, 8);
  base = std::min(base * (1 << doublings), std::max(base, 300000.0));
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  return Duration(static_cast<int64_t>(base * jitter(rng_)));
}

asio::awaitable<void> Poller::Run(Offer offer, Outcome outcome) {
  bool first = true;
  while (!stopping_) {
    const store::Trigger trigger = next_trigger_;
    const std::string actor = next_actor_;
    next_trigger_ = store::Trigger::kPoll;
    next_actor_ = "poll";
    const bool asked = trigger != store::Trigger::kPoll;
    if (rule_.every.count() > 0 || asked || first) {
      first = false;
      auto polled = co_await Poll();
      failures_ = polled.ok() ? 0 : failures_ + 1;
      outcome(polled.status());
      if (polled.ok() && polled->has_value()) offer(**polled, trigger, actor);
    }
    if (stopping_) break;
    // every = 0: only webhooks and notify wake this project.
    Duration delay = rule_.every.count() > 0 ? NextDelay() : kUntilWoken;
    if (next_trigger_ != store::Trigger::kPoll) continue;  // asked while we polled
    wake_->Reset();
    co_await wake_->Wait(delay);
  }
}

asio::awaitable<Result<std::optional<store::Candidate>>> Poller::Poll() {
  std::vector<std::string> patterns;
  if (rule_.tags.empty()) {
    patterns.push_back(RuleRef());
  } else {
    patterns.push_back("refs/tags/*");
  }
  auto refs = co_await git_->LsRemote(rule_.repo, patterns);
  if (!refs.ok()) co_return refs.status();
  std::optional<git::RemoteRef> chosen;
  if (rule_.tags.empty()) {
    for (const auto& r : *refs) {
      if (r.name == patterns[0]) chosen = r;
    }
    if (!chosen) {
      co_return Status::NotFound("branch '" + rule_.branch + "' not found in " + rule_.repo);
    }
  } else {
    chosen = git::NewestMatchingTag(*refs, rule_.tags);
    if (!chosen) co_return std::optional<store::Candidate>();  // no release tag yet: nothing to do
  }
  co_return std::optional<store::Candidate>(store::Candidate{
      chosen->name, chosen->commit, git::VersionLabel(chosen->name, chosen->commit)});
}

asio::awaitable<Result<store::Candidate>> Poller::Resolve(const std::string& ref) {
  if (ref.empty()) {
    auto c = co_await Poll();
    if (!c.ok()) co_return c.status();
    if (!c->has_value()) {
      co_return Status::NotFound("no tag matches '" + rule_.tags + "' in " + rule_.repo);
    }
    co_return **c;
  }
  std::vector<std::string> patterns;
  if (ref.rfind("refs/", 0) == 0) {
    patterns.push_back(ref);
  } else {
    patterns.push_back("refs/heads/" + ref);
    patterns.push_back("refs/tags/" + ref);
  }
  auto refs = co_await git_->LsRemote(rule_.repo, patterns);
  if (!refs.ok()) co_return refs.status();
  for (const auto& want : patterns) {  // a branch wins over a tag of the same name
    for (const auto& r : *refs) {
      if (r.name == want) {
        co_return store::Candidate{r.name, r.commit, git::VersionLabel(r.name, r.commit)};
      }
    }
  }
  co_return Status::NotFound("ref '" + ref + "' not found in " + rule_.repo);
}

}  // namespace anthill::watch
