#include "agent/agent_steps.h"

#include <spdlog/spdlog.h>

namespace anthill::agent {

AgentSteps::AgentSteps(std::string machine, std::string life, AgentDb* db,
                       std::function<void()> queued)
    : machine_(std::move(machine)), life_(std::move(life)), db_(db), queued_(std::move(queued)) {}

int64_t AgentSteps::Started(int64_t deployment_id, store::StepName name) {
  const int64_t n = next_++;
  store::AgentStep step;
  step.key = machine_ + "/" + life_ + "/" + std::to_string(n);
  step.deployment_id = deployment_id;
  step.name = name;
  step.status = store::StepStatus::kRunning;
  step.started_at = Now();
  Status s = db_->QueueStep(step);
  if (!s.ok()) {
    spdlog::error("deployment {}: cannot queue step {} for reporting: {}", deployment_id,
                  store::ToString(name), s.message());
  }
  open_[n] = step;
  if (queued_) queued_();
  return n;
}

void AgentSteps::Ended(int64_t step_id, store::StepStatus status, std::string_view error) {
  auto it = open_.find(step_id);
  if (it == open_.end()) return;
  store::AgentStep step = it->second;
  open_.erase(it);
  step.status = status;
  step.finished_at = Now();
  step.error = std::string(error);
  Status s = db_->QueueStep(step);
  if (!s.ok()) {
    spdlog::error("step {}: cannot queue its end for reporting: {}", step.key, s.message());
  }
  if (queued_) queued_();
}

int AgentSteps::InterruptLeftovers() {
  auto left = db_->OpenSteps();
  if (!left.ok()) {
    spdlog::error("cannot read the steps a previous life left open: {}", left.error());
    return 0;
  }
  for (store::AgentStep step : *left) {
    step.status = store::StepStatus::kInterrupted;
    step.finished_at = Now();
    step.error = "the agent stopped during the step";
    Status s = db_->QueueStep(step);
    if (!s.ok()) spdlog::error("step {}: cannot queue it interrupted: {}", step.key, s.message());
  }
  if (!left->empty()) {
    spdlog::warn("{} step(s) were running when the agent last stopped: reported interrupted",
                 left->size());
    if (queued_) queued_();
  }
  return static_cast<int>(left->size());
}

}  // namespace anthill::agent
