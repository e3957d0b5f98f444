// Where a deployment's steps are written as they start and end: the local
// store today, a report over HTTP from an agent in a fleet.
// Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/record_writer.h"
#include "store/records.h"

namespace anthill::deploy {

class StepSink {
 public:
  virtual ~StepSink() = default;
  // Records a running step; returns its id, 0 when it could not be recorded.
  virtual int64_t Started(int64_t deployment_id, store::StepName name) = 0;
  virtual void Ended(int64_t step_id, store::StepStatus status, std::string_view error) = 0;
};

// Steps in this machine's store.
class StoreStepSink : public StepSink {
 public:
  explicit StoreStepSink(store::RecordWriter* store) : store_(store) {}
  int64_t Started(int64_t deployment_id, store::StepName name) override;
  void Ended(int64_t step_id, store::StepStatus status, std::string_view error) override;

 private:
  store::RecordWriter* store_;
};

// One step: recorded running when made, and its outcome by End(), which
// passes the outcome through ("the record says what happened").
class StepRecord {
 public:
  StepRecord(StepSink& sink, int64_t deployment_id, const std::string& project,
             store::StepName name);
  Status End(Status outcome, store::StepStatus failed_as = store::StepStatus::kFailed);

 private:
  StepSink& sink_;
  std::string project_;
  store::StepName name_;
  int64_t id_ = 0;
};

}  // namespace anthill::deploy
