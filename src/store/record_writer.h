// The record's writes as the deploy side makes them: synchronous, answered at
// once, with the new row's id. A write is made now or kept, in order, to be
// made as soon as the database takes it (store/write_behind.h for SQLite,
// store/pg_record_writer.h for PostgreSQL); reads through AsyncRecordStore
// see every write submitted before them.
//
// Why the writes stay synchronous while the reads are awaited: a decision
// (queue this push, cancel that one, record this step) must not be split by
// a suspension in which another decision about the same project runs; the
// id of a new row is given from ids reserved ahead, so nothing waits for
// the network. Same contracts as record_store.h.
//
// Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "store/records.h"

namespace anthill::store {

class RecordWriter {
 public:
  virtual ~RecordWriter() = default;

  // Inserts d (its id and steps are ignored) and returns the new id.
  virtual Result<int64_t> CreateDeployment(const Deployment& d) = 0;
  // Writes every field of d except project, steps and id (identifies the row).
  virtual Status UpdateDeployment(const Deployment& d) = 0;
  // Inserts a running step and returns its id.
  virtual Result<int64_t> StartStep(int64_t deployment_id, StepName name, TimePoint started_at) = 0;
  virtual Status FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                            std::string_view error) = 0;
  virtual Status SetHookVerdict(int64_t id, std::string_view verdict) = 0;
  // Adding a pinned commit again keeps the first reason.
  virtual Status AddPin(const Pin& pin) = 0;
  virtual Status RemovePin(std::string_view project, std::string_view commit) = 0;
};

}  // namespace anthill::store
