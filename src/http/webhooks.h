// POST /hooks/{github,gitlab,gitea,generic}: a push from a forge, checked,
// stored raw, and turned into a deployment of each project it concerns.
// Thread: the io_context thread.
#pragma once

#include "deploy/controller.h"
#include "http/server.h"
#include "store/store.h"
#include "watch/hooks.h"

namespace anthill::http {

// In this order: the signature over the raw body (401 when no project's
// webhook_secret verifies it), the payload (400 when malformed), the store
// (a replayed delivery id is answered 200 "duplicate" and not acted on), then
// the projects whose repository URL and rule match. An unknown repository gets
// the same 202 "ignored" as a ref nobody deploys: answers never name projects.
Response HandleWebhook(const Request& req, watch::Forge forge, store::Store* store,
                       deploy::Controller* controller);

}  // namespace anthill::http
