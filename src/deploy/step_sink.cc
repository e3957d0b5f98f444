#include "deploy/step_sink.h"

#include <spdlog/spdlog.h>

namespace anthill::deploy {

int64_t StoreStepSink::Started(int64_t deployment_id, store::StepName name) {
  auto id = store_->StartStep(deployment_id, name, Now());
  if (id.ok()) return *id;
  spdlog::error("deployment {}: cannot record step {}: {}", deployment_id, store::ToString(name),
                id.error());
  return 0;
}

void StoreStepSink::Ended(int64_t step_id, store::StepStatus status, std::string_view error) {
  Status s = store_->FinishStep(step_id, status, Now(), error);
  if (!s.ok()) spdlog::error("step {}: cannot record its end: {}", step_id, s.message());
}

StepRecord::StepRecord(StepSink& sink, int64_t deployment_id, const std::string& project,
                       store::StepName name)
    : sink_(sink), project_(project), name_(name) {
  spdlog::info("project {}: deployment {}: {}", project_, deployment_id, store::ToString(name_));
  id_ = sink_.Started(deployment_id, name_);
}

Status StepRecord::End(Status outcome, store::StepStatus failed_as) {
  auto status = outcome.ok() ? store::StepStatus::kSucceeded : failed_as;
  if (!outcome.ok()) {
    spdlog::warn("project {}: {} failed: {}", project_, store::ToString(name_), outcome.message());
  }
  if (id_ != 0) sink_.Ended(id_, status, outcome.message());
  return outcome;
}

}  // namespace anthill::deploy
