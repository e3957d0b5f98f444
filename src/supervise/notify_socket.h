// The NOTIFY_SOCKET Anthill gives a program (systemd's sd_notify protocol): a
// Unix datagram socket on which the program says "READY=1" once it serves.
// The zero-downtime swap stops the old program only after that (or after
// the health check passes).
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>

#include "base/status.h"

namespace anthill::supervise {

class NotifySocket {
 public:
  // Binds a fresh socket at `path` (a stale one is replaced) and starts
  // reading messages. Errors name the path.
  static Result<std::unique_ptr<NotifySocket>> Open(boost::asio::any_io_executor executor,
                                                    const std::filesystem::path& path);
  ~NotifySocket();

  const std::filesystem::path& path() const { return path_; }
  // True once a message with a line "READY=1" arrived.
  bool ready() const;
  // How many messages arrived (any content).
  int messages() const;

  struct Impl;  // shared with the pending read, which may outlive this object

 private:
  NotifySocket(std::filesystem::path path, std::shared_ptr<Impl> impl);
  void Receive();

  std::filesystem::path path_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace anthill::supervise
