// The record's synchronous writes (record_writer.h) on PostgreSQL: each is
// answered at once and made, in the order submitted, by one coroutine over
// PgRecordStore. Ids of new deployments and steps come from blocks reserved
// ahead from the database's own sequences (PgRecordStore::Reserve...Ids), so
// two orchestrators never give the same id and no write waits to learn one.
//
// A write the server cannot take now (kUnavailable: the connection is gone,
// the server restarts) stays first in line and is tried again with a
// backoff (0.1 s doubling to 5 s); nothing behind it overtakes it. A write
// refused as a mistake (a bug, a constraint) is logged and dropped; an
// insert refused as already there (kConflict: the first try was committed
// but its answer was lost) counts as made. Reads wait for the writes
// submitted before them (Drained), so what a caller wrote is what it reads.
//
// Writes still kept when Anthill is killed are lost (the next start-up marks
// what it finds unfinished as interrupted); a clean stop waits for them
// (bounded).
//
// Lifetime: made with std::make_shared; its writing coroutine holds it (and
// the PgRecordStore it holds) while it runs, so its owner may let it go
// while a write is on the wire: the coroutine ends at Stop, or is destroyed
// with the io_context.
//
// Thread: the io_context thread of the executor it was made with.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/event.h"
#include "store/pg_record_store.h"
#include "store/record_writer.h"

namespace anthill::store {

class PgRecordWriter final : public RecordWriter,
                             public std::enable_shared_from_this<PgRecordWriter> {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  // `changed` is told the id of each deployment a write touches, when it is
  // submitted (the live UI hears of it at once; its read waits for it).
  PgRecordWriter(boost::asio::any_io_executor executor, std::shared_ptr<PgRecordStore> pg,
                 std::function<void(int64_t)> changed);
  ~PgRecordWriter() override;
  PgRecordWriter(const PgRecordWriter&) = delete;
  PgRecordWriter& operator=(const PgRecordWriter&) = delete;

  // Reserves the first ids (a database that cannot be reached is an error)
  // and starts the coroutine that makes the writes.
  Awaitable<Status> Start();
  // Ends that coroutine once every write kept is made (it keeps trying while
  // the database is away: the caller bounds how long it waits, with Drained).
  void Stop();

  // Resumes when every write submitted before the call has been made (or
  // dropped as a mistake): true; or when `timeout` passed first: false.
  Awaitable<bool> Drained(Duration timeout);
  // Writes submitted and not yet made.
  size_t pending() const { return queue_.size(); }
  // Whether the last try to write (or to reserve ids) failed because the
  // database could not be reached: writes are kept until it can.
  bool failing() const { return !last_error_.empty(); }

  Result<int64_t> CreateDeployment(const Deployment& d) override;
  Status UpdateDeployment(const Deployment& d) override;
  Result<int64_t> StartStep(int64_t deployment_id, StepName name, TimePoint started_at) override;
  Status FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                    std::string_view error) override;
  Status SetHookVerdict(int64_t id, std::string_view verdict) override;
  Status AddPin(const Pin& pin) override;
  Status RemovePin(std::string_view project, std::string_view commit) override;

 private:
  // One write, as data: what Make does with it.
  struct Write {
    enum class Kind {
      kCreateDeployment,
      kUpdateDeployment,
      kStartStep,
      kFinishStep,
      kHookVerdict,
      kAddPin,
      kRemovePin
    };
    Kind kind = Kind::kCreateDeployment;
    Deployment deployment;  // the row (create, update)
    int64_t id = 0;         // of the step, or of the hook event
    int64_t deployment_id = 0;
    StepName step = StepName::kFetch;
    StepStatus step_status = StepStatus::kRunning;
    TimePoint at;
    std::string text;  // a step's error, a verdict, a pin's commit
    Pin pin;
  };

  void Submit(Write w);
  Awaitable<Status> Make(const Write& w);
  Awaitable<void> Run();
  // Logs a failure (once per kind) and waits `backoff`, which then grows.
  Awaitable<void> Backoff(const Status& failure, Duration& backoff);
  // Keeps at least kLowWater ids of each kind reserved.
  Awaitable<Status> Refill();
  Result<int64_t> TakeId(std::deque<int64_t>& ids, const char* kind);
  static std::string Describe(const Write& w);

  boost::asio::any_io_executor executor_;
  std::shared_ptr<PgRecordStore> pg_;
  std::function<void(int64_t)> changed_;
  std::deque<Write> queue_;
  std::deque<int64_t> deployment_ids_;
  std::deque<int64_t> step_ids_;
  uint64_t submitted_ = 0;  // writes ever submitted
  uint64_t done_ = 0;       // of those, made or dropped
  Event wake_;              // the writer has something to do
  Event progress_;          // a write was made: Drained waiters look again
  bool started_ = false;
  bool stopping_ = false;
  bool finished_ = false;   // Run ended
  std::string last_error_;  // logged once per kind of failure, not per retry
};

}  // namespace anthill::store
