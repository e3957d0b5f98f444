#include "base/event.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace anthill {

namespace asio = boost::asio;

void Event::Set() {
  set_ = true;
  for (auto* t : waiters_) t->cancel();
}

asio::awaitable<bool> Event::Wait(Duration timeout) {
  if (set_) co_return true;
  asio::steady_timer timer(executor_, timeout);
  waiters_.insert(&timer);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  waiters_.erase(&timer);
  co_return set_;
}

asio::awaitable<void> SleepFor(Duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace anthill
