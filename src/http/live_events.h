// GET /api/v1/events: the live feed of the web UI, as server-sent events.
// Each committed change to a deployment (created, a step started or ended,
// finished) becomes `event: deployment` with the deployment's JSON; each
// change to a project's program becomes `event: project` with its state.
// Thread: the io_context thread. The changes are heard synchronously (the
// feed calls back inside the write); the deployments they name are read
// from the record with co_await, when the server asks for the next frames.
#pragma once

#include <string>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/async_record_store.h"
#include "store/change_feed.h"

namespace anthill::http {

// A streaming Response: `event: hello` first, then the changes of `project`
// (empty: every project) until the client goes away.
// REQUIRES: changes, record and controller outlive the stream.
Response LiveEvents(store::ChangeSource* changes, store::AsyncRecordStore* record,
                    const deploy::Controller* controller, const std::string& machine,
                    const std::string& project);

}  // namespace anthill::http
