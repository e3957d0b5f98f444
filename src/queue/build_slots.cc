#include "queue/build_slots.h"

#include <algorithm>

namespace anthill::queue {

bool BuildSlots::TryAcquire(Event* wake) {
  // A waiter first in line, or anyone when nobody waits, may take a free slot:
  // later arrivals do not overtake earlier ones.
  bool first_in_line = waiters_.empty() || waiters_.front() == wake;
  if (in_use_ < capacity_ && first_in_line) {
    Forget(wake);
    ++in_use_;
    // A second free slot goes to the next in line at once.
    if (in_use_ < capacity_ && !waiters_.empty()) waiters_.front()->Set();
    return true;
  }
  if (std::find(waiters_.begin(), waiters_.end(), wake) == waiters_.end()) {
    waiters_.push_back(wake);
  }
  return false;
}

void BuildSlots::Forget(Event* wake) {
  bool was_first = !waiters_.empty() && waiters_.front() == wake;
  waiters_.remove(wake);
  if (was_first && in_use_ < capacity_ && !waiters_.empty()) waiters_.front()->Set();
}

void BuildSlots::Release() {
  if (in_use_ > 0) --in_use_;
  if (!waiters_.empty()) waiters_.front()->Set();
}

}  // namespace anthill::queue
