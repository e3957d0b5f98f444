// The HTTP API v1, the /deployments page and /healthz, as one Handler.
// Requests a browser was made to send (another site, a rebound DNS name) are
// refused first (request_guard.h).
// Thread: the io_context thread. The shared record is read and written only
// through co_await on ApiContext::record, so a record across a network
// suspends the request instead of blocking the loop (store.h says why).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "deploy/agent_protocol.h"
#include "deploy/controller.h"
#include "http/server.h"
#include "store/agent_fleet.h"
#include "store/async_record_store.h"
#include "store/build_queue.h"
#include "store/store.h"

namespace anthill::artifact {
class LocalArtifactStore;  // artifact/local_store.h
}

namespace anthill::http {

struct ApiContext {
  // What stays synchronous: this machine's state (program events) and the
  // feed of changes. Never the record: that is `record`.
  store::Store* store = nullptr;
  deploy::Controller* controller = nullptr;
  std::filesystem::path data_dir;  // build logs are logs/build/<id>.log below it
  std::string machine;
  std::string token;  // mutating calls need "Authorization: Bearer <token>" when set
  // [server] allowed_hosts: Host names answered besides localhost, IP
  // addresses, this machine's host name and `machine` (see request_guard.h).
  std::vector<std::string> allowed_hosts;
  // The record as coroutines call it (store->async_record() over SQLite).
  store::AsyncRecordStore* record = nullptr;
  // The archives builders upload and machines download (/api/v1/artifacts/,
  // artifacts.h); null: those routes answer 404 "this anthill keeps no
  // artifacts".
  artifact::LocalArtifactStore* artifacts = nullptr;
  // The fleet's build queue (PostgreSQL); null on a single machine, where
  // /api/v1/queue has no build_jobs.
  store::BuildQueue* build_queue = nullptr;
  // The fleet's agents (agents_api.h); null on a single machine, where the
  // agent routes answer 404 and /api/v1/machines lists none.
  store::AgentFleet* agents = nullptr;
  // Where agents download artifacts from ([artifacts]).
  deploy::AgentArtifactStore agent_artifacts;
  // Set: counts the requests being answered (an agent's poll is held up to
  // 60 s), so that the daemon stops its stores only once none is on them.
  int* in_flight = nullptr;
};

// REQUIRES: ctx.store, ctx.controller and ctx.record set (and ctx.artifacts,
// when set), and outliving the Handler and every request it is answering.
Handler MakeApi(ApiContext ctx);

}  // namespace anthill::http
