// Writes the database could not take when they were made (another process
// holds its write lock, the disk is full) are kept here, in order, and made
// when it takes writes again; meanwhile reads see them, so a deployment that
// ended is never shown as running, and a push that came in is not lost.
//
// Why not wait: SQLite waits for a lock on the calling thread, and the
// calling thread is the io_context's: every probe, project and request would
// stall behind one `sqlite3` shell left open on the database.
// Thread: the owner's (the Store's).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/records.h"

namespace anthill::store {

class WriteBehind {
 public:
  // A write, and whether its failure is worth retrying (the database was
  // locked, full, or could not be read) rather than a mistake.
  struct Outcome {
    Status status;
    bool transient = false;
  };
  using Write = std::function<Outcome()>;

  // Makes `write` now when nothing waits before it; else, or when it fails
  // for a transient reason, keeps it to be made by Flush (after every write
  // kept before it). True when it was made now; false when kept. A permanent
  // failure comes back as an error and nothing is kept.
  Result<bool> Submit(Write write, const std::string& what);
  // Makes the kept writes, oldest first, until one fails for a transient
  // reason (it stays first). A permanent failure drops that write (logged).
  // Returns how many are still kept.
  size_t Flush();
  size_t size() const { return queue_.size(); }

  // Deployments with writes kept: the newest state, steps included.
  std::map<int64_t, Deployment>& unsaved() { return unsaved_; }
  // Replaces rows of `list` by their unsaved state, and adds unsaved rows
  // `keep` accepts that the database does not have yet; newest first, at
  // most `limit`.
  void Overlay(std::vector<Deployment>& list, const std::function<bool(const Deployment&)>& keep,
               size_t limit) const;
  // The unsaved deployment a step belongs to, if it has one.
  Deployment* UnsavedOwnerOfStep(int64_t step_id);

 private:
  struct Kept {
    Write write;
    std::string what;
  };
  std::deque<Kept> queue_;
  std::map<int64_t, Deployment> unsaved_;
  std::string last_error_;  // logged once per kind of failure, not per retry
};

}  // namespace anthill::store
