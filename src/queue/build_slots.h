// The global bound on concurrent builds ([server] max_parallel_builds): a
// counting semaphore for coroutines. A build holds a slot from fetch to
// release; stopping and starting programs need none.
// Thread: the io_context thread.
#pragma once

#include <list>

#include "base/event.h"

namespace anthill::queue {

class BuildSlots {
 public:
  explicit BuildSlots(int capacity) : capacity_(capacity) {}
  BuildSlots(const BuildSlots&) = delete;
  BuildSlots& operator=(const BuildSlots&) = delete;

  // Takes a slot when one is free and returns true. Otherwise returns false
  // and arranges for `wake` to be Set() when a slot is released; the caller
  // waits on `wake` (which it may also Set() itself, to give up) and tries
  // again. Waiters are woken in the order they first asked.
  bool TryAcquire(Event* wake);
  // Forgets a waiter that gave up.
  void Forget(Event* wake);
  void Release();

  int in_use() const { return in_use_; }
  int capacity() const { return capacity_; }
  int waiting() const { return static_cast<int>(waiters_.size()); }

 private:
  int capacity_;
  int in_use_ = 0;
  std::list<Event*> waiters_;
};

}  // namespace anthill::queue
