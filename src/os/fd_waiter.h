// Waiting, from a coroutine, until a file descriptor someone else owns can be
// read or written: libpq's connection socket, which libpq opens, reads,
// writes and closes itself while Anthill only waits on it (store/pg_connection).
//
// Thread: the io_context thread of the executor it is made with; one wait at
// a time of each kind.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include "base/status.h"

namespace anthill::os {

class FdWaiter {
 public:
  // Watches `fd` (not owned: it stays open when the waiter goes, and must
  // stay open while the waiter lives). A fd that cannot be watched (closed,
  // a regular file) makes every wait fail at once, naming it.
  FdWaiter(boost::asio::any_io_executor executor, int fd);
  // Forgets the fd without closing it; a wait still pending completes with
  // kCancelled.
  ~FdWaiter();
  FdWaiter(const FdWaiter&) = delete;
  FdWaiter& operator=(const FdWaiter&) = delete;

  int fd() const { return fd_; }

  // Completes when the fd is readable (or writable), at once if it already
  // is; also when the peer has hung up or the fd has an error pending, so the
  // owner's next read or write finds out. kCancelled after Cancel().
  boost::asio::awaitable<Status> WaitReadable();
  boost::asio::awaitable<Status> WaitWritable();

  // Ends the pending waits with kCancelled.
  void Cancel();

 private:
  boost::asio::awaitable<Status> Wait(boost::asio::posix::stream_descriptor::wait_type type);

  int fd_;
  Status watch_error_;  // why the fd could not be watched; ok when it is
  boost::asio::posix::stream_descriptor descriptor_;
};

}  // namespace anthill::os
