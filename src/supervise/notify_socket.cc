#include "supervise/notify_socket.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/datagram_protocol.hpp>
#include <string>

namespace anthill::supervise {

namespace asio = boost::asio;
using Datagram = asio::local::datagram_protocol;

struct NotifySocket::Impl {
  explicit Impl(asio::any_io_executor ex) : socket(ex) {}
  Datagram::socket socket;
  char buffer[4096];
  bool ready = false;
  int messages = 0;
};

NotifySocket::NotifySocket(std::filesystem::path path, std::shared_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

bool NotifySocket::ready() const { return impl_->ready; }
int NotifySocket::messages() const { return impl_->messages; }

NotifySocket::~NotifySocket() {
  boost::system::error_code ec;
  impl_->socket.close(ec);
  std::error_code fs_ec;
  std::filesystem::remove(path_, fs_ec);
}

Result<std::unique_ptr<NotifySocket>> NotifySocket::Open(asio::any_io_executor executor,
                                                         const std::filesystem::path& path) {
  std::error_code fs_ec;
  std::filesystem::create_directories(path.parent_path(), fs_ec);
  std::filesystem::remove(path, fs_ec);
  auto impl = std::make_shared<Impl>(executor);
  boost::system::error_code ec;
  impl->socket.open(Datagram(), ec);
  if (!ec) impl->socket.bind(Datagram::endpoint(path.string()), ec);
  if (ec) return Status::Error("cannot open notify socket " + path.string() + ": " + ec.message());
  std::unique_ptr<NotifySocket> out(new NotifySocket(path, impl));
  out->Receive();
  return out;
}

namespace {

// Reads messages until the socket is closed; any line "READY=1" marks ready.
void ReceiveLoop(std::shared_ptr<NotifySocket::Impl> impl);

}  // namespace

void NotifySocket::Receive() { ReceiveLoop(impl_); }

namespace {

void ReceiveLoop(std::shared_ptr<NotifySocket::Impl> impl) {
  impl->socket.async_receive(
      asio::buffer(impl->buffer), [impl](const boost::system::error_code& ec, size_t n) {
        if (ec) return;  // closed
        ++impl->messages;
        std::string message(impl->buffer, n);
        size_t at = 0;
        for (;;) {
          size_t end = message.find('\n', at);
          std::string line = message.substr(at, end == std::string::npos ? end : end - at);
          if (line == "READY=1") impl->ready = true;
          if (end == std::string::npos) break;
          at = end + 1;
        }
        ReceiveLoop(impl);  // later messages (STATUS=..., STOPPING=1) are read and ignored
      });
}

}  // namespace

}  // namespace anthill::supervise
