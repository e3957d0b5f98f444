// Asks the orchestrators for this machine's desired state, with a long poll:
//
//   GET {server}/api/v1/agents/{machine}/desired?generation=N&wait=30s&labels=a,b
//   200 DesiredState   once the machine's generation is above N, or when
//                      the wait ran out (the same generation again)
//
// A generation above the highest seen is handed on; the same or an older
// one (a stale orchestrator) changes nothing. An orchestrator that does not
// answer (no connection, no answer within the wait and 15 s, a 5xx) is
// left for the next of the list, after 100 ms doubling to 5 s. A refused
// token (401; 403: a token of another machine) is logged as such and asked
// again after 1 s doubling to 30 s: it may be fixed on the orchestrators.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/stopping.h"
#include "deploy/agent_protocol.h"

namespace anthill::agent {

// "30s", "1500ms": a wait as the API reads it.
std::string WaitText(Duration wait);

class DesiredPoller {
 public:
  // Called with each newer desired state and its JSON as received.
  using OnDesired = std::function<void(deploy::DesiredState state, const std::string& json)>;

  // generation: the highest already seen (kept on disk).
  DesiredPoller(std::vector<std::string> servers, std::string machine, std::string token,
                std::vector<std::string> labels, Duration wait, int64_t generation,
                Stopping* stopping, OnDesired on_desired);

  // Polls until stopped.
  boost::asio::awaitable<void> Run();

  // The orchestrator asked now (the last that answered, while it answers).
  const std::string& current() const { return servers_[at_ % servers_.size()]; }
  int64_t generation() const { return generation_; }

 private:
  std::vector<std::string> servers_;
  std::string machine_;
  std::string token_;
  std::vector<std::string> labels_;
  Duration wait_;
  int64_t generation_;
  Stopping* stopping_;
  OnDesired on_desired_;
  size_t at_ = 0;
};

}  // namespace anthill::agent
