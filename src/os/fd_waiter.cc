#include "os/fd_waiter.h"

#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

namespace anthill::os {

namespace asio = boost::asio;

FdWaiter::FdWaiter(asio::any_io_executor executor, int fd) : fd_(fd), descriptor_(executor) {
  // assign() registers the fd with the reactor (epoll). The error_code form:
  // the throwing one would carry an exception out of os/.
  boost::system::error_code ec;
  descriptor_.assign(fd, ec);
  if (ec) {
    watch_error_ = Status::Internal("cannot watch fd " + std::to_string(fd) + ": " + ec.message());
  }
}

FdWaiter::~FdWaiter() {
  // release(), not close(): the fd belongs to its owner (libpq), which
  // closes it itself. Asio only removes it from its reactor here.
  if (descriptor_.is_open()) descriptor_.release();
}

asio::awaitable<Status> FdWaiter::WaitReadable() {
  return Wait(asio::posix::stream_descriptor::wait_read);
}

asio::awaitable<Status> FdWaiter::WaitWritable() {
  return Wait(asio::posix::stream_descriptor::wait_write);
}

void FdWaiter::Cancel() {
  if (!descriptor_.is_open()) return;
  boost::system::error_code ignored;
  descriptor_.cancel(ignored);
}

asio::awaitable<Status> FdWaiter::Wait(asio::posix::stream_descriptor::wait_type type) {
  if (!watch_error_.ok()) co_return watch_error_;
  // Nothing of `this` is touched after the wait: the waiter may be gone by
  // then (its destructor is what ended the wait).
  const std::string what = "wait on fd " + std::to_string(fd_);
  boost::system::error_code ec;
  co_await descriptor_.async_wait(type, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == asio::error::operation_aborted) co_return Status::Cancelled(what + " cancelled");
  if (ec) co_return Status::Internal(what + ": " + ec.message());
  co_return Status::Ok();
}

}  // namespace anthill::os
