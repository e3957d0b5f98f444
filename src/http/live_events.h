// GET /api/v1/events: the live feed of the web UI, as server-sent events.
// Each committed change to a deployment (created, a step started or ended,
// finished) becomes `event: deployment` with the deployment's JSON; each
// change to a project's program becomes `event: project` with its state.
// Thread: the io_context thread.
#pragma once

#include <string>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/store.h"

namespace anthill::http {

// A streaming Response: `event: hello` first, then the changes of `project`
// (empty: every project) until the client goes away.
Response LiveEvents(store::Store* store, const deploy::Controller* controller,
                    const std::string& machine, const std::string& project);

}  // namespace anthill::http
