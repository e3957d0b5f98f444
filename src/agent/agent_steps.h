// The steps an agent runs (download, stop, start, healthcheck, rollback), as
// the orchestrators' record gets them: each change of a step is queued in
// the outbox (agent_db.h) and reported, under a key that no other step of
// this agent has, in this life or another: "<machine>/<life>/<n>", where a
// life is one run of the agent (random) and n counts its steps.
//
// Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "agent/agent_db.h"
#include "deploy/step_sink.h"

namespace anthill::agent {

class AgentSteps : public deploy::StepSink {
 public:
  // queued: called after each step change is queued (wakes the reporter).
  AgentSteps(std::string machine, std::string life, AgentDb* db, std::function<void()> queued);

  int64_t Started(int64_t deployment_id, store::StepName name) override;
  void Ended(int64_t step_id, store::StepStatus status, std::string_view error) override;

  // Queues as interrupted ("the agent stopped during the step") every step
  // a previous life started and never ended. Returns how many.
  int InterruptLeftovers();

 private:
  std::string machine_;
  std::string life_;
  AgentDb* db_;
  std::function<void()> queued_;
  int64_t next_ = 1;
  std::map<int64_t, store::AgentStep> open_;
};

}  // namespace anthill::agent
