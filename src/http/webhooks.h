// POST /hooks/{github,gitlab,gitea,generic}: a push from a forge, checked,
// stored raw, and turned into a deployment of each project it concerns.
// Thread: the io_context thread; the record is awaited, never read or
// written synchronously.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/async_record_store.h"
#include "watch/hooks.h"

namespace anthill::http {

// In this order: the signature over the raw body (401 when no project's
// webhook_secret verifies it), the payload (400 when malformed), the store
// (a replayed delivery id is answered 200 "duplicate" and not acted on), then
// the projects whose repository URL and rule match. An unknown repository gets
// the same 202 "ignored" as a ref nobody deploys: answers never name projects.
// REQUIRES: req, record and controller outlive the coroutine (the caller
// awaits it at once).
boost::asio::awaitable<Response> HandleWebhook(const Request& req, watch::Forge forge,
                                               store::AsyncRecordStore* record,
                                               deploy::Controller* controller);

}  // namespace anthill::http
