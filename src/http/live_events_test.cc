// The live events stream (/api/v1/events) over a real socket: every change
// of the project is sent, and the subscription ends with the client.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <string>
#include <thread>

#include "http/api_fixture_test.h"
#include "http/server.h"
#include "http/socket_test_util.h"

namespace anthill::http {
namespace {

TEST_F(ApiTest, EventsStreamEveryChangeOverARealSocket) {
  boost::asio::io_context io;
  Server server(io, api_);
  ASSERT_TRUE(server.Listen("127.0.0.1:0").ok());
  std::thread loop([&] { io.run(); });
  auto on_io = [&](auto f) {  // the store belongs to the io thread
    std::promise<void> done;
    boost::asio::post(io, [&] { f(), done.set_value(); });
    done.get_future().wait();
  };

  boost::asio::io_context cio;
  boost::asio::ip::tcp::socket socket(cio);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
  const std::string ask = "GET /api/v1/events?project=hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(ask));
  boost::asio::streambuf buf;
  std::string got = ReadUntil(socket, buf, "event: hello\ndata: {\"machine\":\"m1\"}\n\n");
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream"), std::string::npos) << got;
  EXPECT_EQ(got.find("Content-Length"), std::string::npos) << got;
  ASSERT_NE(got.find("event: hello"), std::string::npos) << got;

  // A new deployment of this project, then its step: both are sent; another
  // project's deployment is not.
  on_io([&] { AddDeployment("other"); });
  on_io([&] { AddDeployment("hello", "<b>alice</b>"); });
  got = ReadUntil(socket, buf, "\"status\":\"succeeded\",\"steps\":[{");
  EXPECT_NE(got.find("event: deployment\ndata: {"), std::string::npos) << got;
  EXPECT_NE(got.find("\"actor\":\"<b>alice</b>\""), std::string::npos) << got;
  EXPECT_EQ(got.find("\"project\":\"other\""), std::string::npos) << got;
  // A program event of the project: its state follows.
  on_io([&] {
    (void)store_->AddProgramEvent(
        {0, "hello", Now(), store::ProgramEventKind::kExited, "v", 1, "exit 1"});
  });
  got = ReadUntil(socket, buf, "event: project\ndata: {");
  EXPECT_NE(got.find("event: project\ndata: {"), std::string::npos) << got;

  // The client leaves; the server stops; the subscription ended with it.
  socket.close();
  boost::asio::post(io, [&] { server.Stop(); });
  loop.join();
  io.restart();
  io.run();  // let the stream coroutine finish and drop its source
  EXPECT_EQ(store_->changes().subscriber_count(), 0u);
}

}  // namespace
}  // namespace anthill::http
