// One project's poller: asks the repository (git ls-remote) what its rule
// names now, the branch head or the newest matching tag, every `every` with
// jitter (+-10 %) and backoff while the remote fails, or at once when a push
// or `anthill notify` asks. What it finds is offered as a candidate; whether
// it is deployed is the intake's decision (deploy/intake).
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "base/event.h"
#include "base/status.h"
#include "base/time.h"
#include "git/git.h"
#include "store/candidate.h"
#include "store/records.h"

namespace anthill::watch {

// Which commit a project deploys.
struct PollRule {
  std::string repo;    // URL or path
  std::string branch;  // used when tags is empty
  std::string tags;    // glob: deploy the newest matching tag
  Duration every{0};   // 0: only at start-up, on webhooks and notify
};

class Poller {
 public:
  Poller(boost::asio::any_io_executor executor, git::Git* git, PollRule rule);

  // Called with what a poll found, and who the poll was for.
  using Offer =
      std::function<void(const store::Candidate&, store::Trigger, const std::string& actor)>;
  // Called after each poll: ok, or why it failed (the first failure, a new
  // error, and the recovery are worth telling people).
  using Outcome = std::function<void(const Status&)>;
  // Polls until Stop(). Even with `every` 0 it looks once at the start, so a
  // webhook-only project runs what its rule says without waiting for a push.
  boost::asio::awaitable<void> Run(Offer offer, Outcome outcome);
  // Polls now on behalf of `actor` (a tag webhook, notify without a commit).
  void PollNow(store::Trigger trigger, const std::string& actor);
  void Stop();

  // What the rule names now; nullopt for a tag rule with no matching tag yet.
  boost::asio::awaitable<Result<std::optional<store::Candidate>>> Poll();
  // Resolves a ref a person gave ("main", "release-3", "refs/tags/x"; empty:
  // the rule) to a candidate; a branch wins over a tag of the same name.
  boost::asio::awaitable<Result<store::Candidate>> Resolve(const std::string& ref);

  // "refs/heads/<branch>", or "" for tag rules.
  std::string RuleRef() const;
  // The ref a recorded version came from: the branch, or the tag it is named after.
  std::string RefOfVersion(const std::string& version) const;

 private:
  Duration NextDelay();

  git::Git* git_;
  PollRule rule_;
  std::mt19937 rng_;
  int failures_ = 0;
  bool stopping_ = false;
  store::Trigger next_trigger_ = store::Trigger::kPoll;
  std::string next_actor_ = "poll";
  std::unique_ptr<Event> wake_;
};

}  // namespace anthill::watch
