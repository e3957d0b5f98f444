// An event that coroutines can wait for, with a time limit. Set() wakes every
// waiter; waiting after Set() returns at once, until Reset().
// Thread: the io_context thread that owns it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <set>

#include "base/time.h"

namespace anthill {

class Event {
 public:
  explicit Event(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  void Set();
  void Reset() { set_ = false; }
  bool is_set() const { return set_; }
  // True when the event is set, false when `timeout` passed first.
  boost::asio::awaitable<bool> Wait(Duration timeout);

 private:
  boost::asio::any_io_executor executor_;
  bool set_ = false;
  std::set<boost::asio::steady_timer*> waiters_;
};

// A wait "until woken": long enough that only Set() (or an exit) ends it.
inline constexpr Duration kUntilWoken{24LL * 3600 * 1000};

// Suspends the calling coroutine for d.
boost::asio::awaitable<void> SleepFor(Duration d);

}  // namespace anthill
