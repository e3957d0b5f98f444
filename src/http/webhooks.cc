#include "http/webhooks.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>

#include "http/reply.h"

namespace anthill::http {

using nlohmann::json;

// Every record call below is awaited with named arguments only (GCC 12
// mishandles temporaries inside a co_await expression).
boost::asio::awaitable<Response> HandleWebhook(const Request& req, watch::Forge forge,
                                               store::AsyncRecordStore* record,
                                               deploy::Controller* controller) {
  const std::string source(watch::ToString(forge));
  // 1. Who signed it. Each distinct secret is tried; the one that verifies
  // decides which projects may be touched.
  const auto targets = controller->HookTargets();
  std::set<std::string> secrets;
  for (const auto& t : targets) {
    if (!t.webhook_secret.empty()) secrets.insert(t.webhook_secret);
  }
  std::string signer;
  Status why = Status::Unauthenticated("no project has a webhook_secret, so no hook is accepted");
  for (const auto& secret : secrets) {
    Status s = watch::VerifySignature(forge, req.headers, req.body, secret);
    if (s.ok()) {
      signer = secret;
      break;
    }
    why = s;
  }
  if (signer.empty()) {
    spdlog::warn("hook {}: refused: {}", source, why.message());
    co_return ErrorResponse(why);
  }

  // 2. What it says.
  auto push = watch::ParsePush(forge, req.headers, req.body);

  // 3. Stored raw before anything is done, a malformed one too (with its
  // verdict, then answered 400); a replayed delivery stops here.
  const watch::PushEvent seen = push.ok() ? *push : watch::DescribeDelivery(forge, req.headers);
  store::HookEvent e;
  e.received_at = Now();
  e.source = source;
  e.delivery_id = seen.delivery_id;
  e.event = seen.event;
  e.repository =
      seen.repository.empty() && !seen.repo_urls.empty() ? seen.repo_urls.front() : seen.repository;
  e.ref = seen.ref;
  e.commit = seen.commit;
  e.pusher = seen.pusher;
  if (!push.ok()) e.verdict = "malformed: " + push.error();
  e.body = req.body;
  auto id = co_await record->RecordHookEvent(e);
  if (!id.ok()) {
    spdlog::error("hook {}: {}", source, id.error());
    co_return ErrorResponse(500, "cannot store the hook");
  }
  if (!push.ok()) {
    spdlog::warn("hook {}: malformed: {}", source, push.error());
    co_return ErrorResponse(push.status());
  }
  if (!id->has_value()) {
    spdlog::info("hook {}: delivery {} seen before: ignored", source, push->delivery_id);
    co_return JsonResponse(200, {{"status", "duplicate"}, {"delivery_id", push->delivery_id}});
  }
  const int64_t event_id = **id;

  // 4. Acted on, or ignored (not a push, a deletion, no project of this
  // repository); the verdict is stored for people, `ignored` answers.
  std::string verdict;
  bool ignored = true;
  json deployments = json::array();
  if (!push->is_push) {
    verdict = "ignored: '" + push->event + "' is not a push";
  } else if (push->deleted) {
    verdict = "ignored: " + push->ref + " was deleted";
  } else {
    const std::string actor = push->pusher.empty() ? source + " webhook" : push->pusher;
    for (const auto& t : targets) {
      if (t.webhook_secret != signer || !watch::RepoMatches(push->repo_urls, t.repo)) continue;
      deploy::ActionOutcome out =
          controller->Notify(t.project, push->ref, push->commit, store::Trigger::kWebhook, actor);
      ignored = false;
      if (!verdict.empty()) verdict += "; ";
      verdict += t.project + ": " + out.message;
      if (out.deployment_id != 0) deployments.push_back(out.deployment_id);
    }
    if (verdict.empty()) verdict = "ignored: no project deploys this repository";
  }
  (void)co_await record->SetHookVerdict(event_id, verdict);
  spdlog::info("hook {} {} {} {}: {}", source, push->delivery_id, push->ref,
               push->commit.substr(0, 8), verdict);
  co_return JsonResponse(202, {{"status", ignored ? "ignored" : "accepted"},
                               {"hook_event", event_id},
                               {"deployments", deployments}});
}

}  // namespace anthill::http
