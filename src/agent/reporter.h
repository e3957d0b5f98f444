// Delivers the outbox (agent_db.h) to the orchestrators, in order, until
// each item is acknowledged:
//
//   POST {server}/api/v1/agents/{machine}/reports   <- store::AgentReport
//   200 {"applied": true|false}   acknowledged (false: applied before)
//
// The oldest items (up to 100) go as one report, a project's states and a
// step's changes folded to the newest of each. Its id is the agent's
// ("<agent db id>/<first item>-<last item>"): the same items sent again
// (their answer was lost) carry the same id and are applied once. Anything
// but a 200 (5xx, a refusal of the token, no answer within 30 s, no
// connection) is not an acknowledgement: the same report is sent again
// after 100 ms, doubling to 5 s, to the next orchestrator of the list. A
// 400, 413 or 422 says the report can never be taken: it is logged and
// dropped, so that it does not hold back every report after it.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/agent_db.h"
#include "agent/stopping.h"
#include "base/event.h"

namespace anthill::agent {

// The report of `items` (oldest first), id made of the agent's and theirs.
store::AgentReport Batch(const std::string& agent_id, const std::vector<AgentDb::Item>& items);

class Reporter {
 public:
  Reporter(boost::asio::any_io_executor executor, std::vector<std::string> servers,
           std::string machine, std::string token, AgentDb* db, Stopping* stopping);

  // Something was queued (or the agent is stopping): look at the outbox.
  void Wake() { wake_.Set(); }
  // Sends until stopped.
  boost::asio::awaitable<void> Run();

  // Reports acknowledged in this life (tests, logs).
  int64_t delivered() const { return delivered_; }

 private:
  std::vector<std::string> servers_;
  std::string machine_;
  std::string token_;
  AgentDb* db_;
  Stopping* stopping_;
  Event wake_;
  int64_t delivered_ = 0;
};

}  // namespace anthill::agent
