// Test helper: reading a loopback socket up to a needle, with a deadline.
// Shared by live_events_test.cc and server_test.cc.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <chrono>
#include <string>

namespace anthill::http {

// Reads from `socket` until `needle` arrived or 10 s passed; returns all read.
inline std::string ReadUntil(boost::asio::ip::tcp::socket& socket, boost::asio::streambuf& buf,
                             const std::string& needle) {
  auto& io = static_cast<boost::asio::io_context&>(socket.get_executor().context());
  boost::system::error_code ec;
  bool done = false;
  boost::asio::async_read_until(socket, buf, needle,
                                [&](boost::system::error_code e, size_t) { ec = e, done = true; });
  io.restart();
  io.run_for(std::chrono::seconds(10));
  if (!done) socket.cancel();
  std::string all(boost::asio::buffers_begin(buf.data()), boost::asio::buffers_end(buf.data()));
  return all;
}

}  // namespace anthill::http
