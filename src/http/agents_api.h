// The routes of a fleet's agents and of the people who manage them:
//
//   GET    /api/v1/agents/{machine}/desired?generation=N&wait=30s&labels=a,b
//          (the machine's agent token) the machine's DesiredState
//          (deploy/agent_protocol.h), once its generation is above N or the
//          wait (at most 60 s) ran out
//   POST   /api/v1/agents/{machine}/reports   (its agent token) a report,
//          applied once per id: 200 {"applied": true}
//   POST   /api/v1/agents {"name": "web-1"}   (the server token) registers
//          an agent: 201 {"name", "token"}; the token is shown this once
//   DELETE /api/v1/agents/{name}              (the server token) revokes it
//   GET    /api/v1/agents, /api/v1/machines   the agents, and what each runs
//
// An agent token is "<machine>.<64 hex>": the name says whose it is, the
// store keeps only its SHA-256, and it opens only its own machine's routes
// (a desired state holds the projects' env) and artifact downloads. It can
// deploy, roll back or read nothing else: the server token's routes refuse
// it as any wrong token.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "deploy/agent_protocol.h"
#include "http/message.h"
#include "store/agent_fleet.h"

namespace anthill::http {

struct AgentsContext {
  store::AgentFleet* fleet = nullptr;  // null: no fleet, the routes answer 404
  std::string server_token;            // [server] token
  deploy::AgentArtifactStore artifacts;
};

// True when `path` is one of the routes above.
bool IsAgentsRoute(std::string_view path);

// The answer to req, whose path IsAgentsRoute. `req` and `ctx` must outlive
// the awaitable (the caller awaits it at once): a long poll holds its frame
// for up to 30 s, and an orchestrator holds one per agent, so no copy of
// either is kept. Not a coroutine itself: it returns the route's own, with
// no frame of its own in between.
boost::asio::awaitable<Response> ServeAgents(const Request& req, const AgentsContext& ctx);

// True when req carries a live agent token (any machine's): it may read
// artifacts. `req` must outlive the call.
boost::asio::awaitable<bool> CarriesAgentToken(const Request& req, store::AgentFleet* fleet);

// A new agent token for `machine`, and the SHA-256 (hex) the store keeps.
std::string NewAgentToken(const std::string& machine);
std::string TokenSha256(const std::string& token);
// The machine an agent token names ("" for a token of another shape).
std::string MachineOfToken(const std::string& token);

}  // namespace anthill::http
