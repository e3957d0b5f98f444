// GET /api/v1/events against a real anthill deploying a real repository: a
// client that connected before the push sees the new deployment and each of
// its steps start and end, in order, without asking again.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>

#include "tests/e2e/harness.h"

namespace anthill::e2e {
namespace {

namespace asio = boost::asio;

// One server-sent event stream, read frame by frame with a deadline.
class EventStreamClient {
 public:
  EventStreamClient(int port, const std::string& target) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    const std::string ask = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    asio::write(socket_, asio::buffer(ask));
    head_ = ReadUntil("\r\n\r\n");
  }
  const std::string& head() const { return head_; }

  // The next frame's (event, data), or {"", ""} after the deadline.
  std::pair<std::string, json> Next(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    for (;;) {
      std::string frame = ReadUntil("\n\n", timeout);
      if (frame.empty()) return {"", nullptr};
      std::string event, data;
      std::istringstream lines(frame);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("event: ", 0) == 0) event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) data = line.substr(6);
      }
      if (!event.empty()) return {event, json::parse(data, nullptr, false)};
      // a `retry:` line or a keepalive comment: read on
    }
  }

 private:
  std::string ReadUntil(const std::string& delimiter,
                        std::chrono::seconds timeout = std::chrono::seconds(10)) {
    size_t n = 0;
    bool done = false;
    asio::async_read_until(socket_, buffer_, delimiter,
                           [&](boost::system::error_code ec, size_t k) {
                             done = true;
                             n = ec ? 0 : k;
                           });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return "";
    }
    std::string out(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + n);
    buffer_.consume(n);
    return out;
  }

  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  asio::streambuf buffer_;
  std::string head_;
};

TEST_F(AnthillTest, EventsFollowANewDeploymentStepByStep) {
  StartAnthill();
  ASSERT_EQ(WaitFinished(Head())["status"], "succeeded");

  EventStreamClient events(api_port_, "/api/v1/events?project=hello");
  EXPECT_NE(events.head().find("text/event-stream"), std::string::npos) << events.head();
  auto [kind, hello] = events.Next();
  ASSERT_EQ(kind, "hello");
  EXPECT_EQ(hello["machine"], "test-machine");

  const std::string sha = CommitChange("live");
  // Every state of the new deployment, as the stream tells it, until it ends.
  std::vector<std::string> seen;  // "step:status", in the order the frames first showed them
  json last;
  for (;;) {
    auto [event, data] = events.Next();
    ASSERT_FALSE(event.empty()) << "the stream went quiet; saw " << ::testing::PrintToString(seen);
    if (event != "deployment" || data["to_commit"] != sha) continue;
    last = data;
    for (const auto& step : data["steps"]) {
      std::string s = step["name"].get<std::string>() + ":" + step["status"].get<std::string>();
      if (std::find(seen.begin(), seen.end(), s) == seen.end()) seen.push_back(s);
    }
    if (!data["finished_at"].is_null()) break;
  }
  EXPECT_EQ(last["status"], "succeeded") << last.dump(1);
  // Each step was seen running before it was seen done: the stream is live,
  // not a summary at the end. (Two changes can share a frame, so a step may
  // be seen only finished; fetch and build take long enough to be seen.)
  auto index = [&](const std::string& s) {
    return std::find(seen.begin(), seen.end(), s) - seen.begin();
  };
  EXPECT_LT(index("build:running"), index("build:succeeded")) << ::testing::PrintToString(seen);
  EXPECT_LT(index("build:succeeded"), index("healthcheck:succeeded"))
      << ::testing::PrintToString(seen);
  EXPECT_LT(index("healthcheck:succeeded"), static_cast<long>(seen.size()))
      << ::testing::PrintToString(seen);
  // The final frame equals what the API answers.
  json api = Api("/api/v1/deployments/" + std::to_string(last["id"].get<int64_t>()));
  EXPECT_EQ(api["steps"], last["steps"]);

  // Anthill stops cleanly (exit 0, promptly) while a client still listens,
  // and the client sees the stream end.
  // (Frames written before the stop, e.g. the project's once its new
  // program is recorded, may still be on their way.)
  StopAnthill();
  std::string event = "unread";
  for (int frames = 0; frames < 10 && !event.empty(); ++frames) {
    event = events.Next(std::chrono::seconds(5)).first;
  }
  EXPECT_EQ(event, "");
}

}  // namespace
}  // namespace anthill::e2e
