// A route waiting on the record suspends; it does not block the loop. With
// PostgreSQL a read crosses the network: while it is on the wire, the same
// io_context must go on serving everyone else.

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "http/api_fixture_test.h"
#include "http/client.h"
#include "http/server.h"
#include "http/socket_test_util.h"
#include "store/async_record_store.h"
#include "testing/testing.h"

namespace anthill::http {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

// The real record, except that ListDeployments waits at a gate before it
// reads, as a query on the wire would: its caller stays suspended until the
// test opens the gate (on the io thread). Every other call goes straight
// through.
class GatedRecord final : public store::AsyncRecordStore {
 public:
  GatedRecord(store::AsyncRecordStore& inner, asio::io_context& io)
      : inner_(inner), gate_(io, asio::steady_timer::time_point::max()) {}

  // Lets the waiting lists, and every later one, through. On the io thread.
  void Open() {
    open_ = true;
    gate_.cancel();
  }
  // Read by the test's thread.
  int lists_waiting() const { return lists_waiting_; }
  int lists_answered() const { return lists_answered_; }

  Awaitable<Result<std::vector<store::Deployment>>> ListDeployments(
      store::DeploymentFilter f) override {
    ++lists_waiting_;
    if (!open_) {
      boost::system::error_code ec;  // operation_aborted: Open() was called
      co_await gate_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    auto list = co_await inner_.ListDeployments(f);
    --lists_waiting_;
    ++lists_answered_;
    co_return list;
  }

  Awaitable<Result<int64_t>> CreateDeployment(store::Deployment d) override {
    return inner_.CreateDeployment(std::move(d));
  }
  Awaitable<Status> UpdateDeployment(store::Deployment d) override {
    return inner_.UpdateDeployment(std::move(d));
  }
  Awaitable<Result<int64_t>> StartStep(int64_t deployment_id, store::StepName name,
                                       TimePoint started_at) override {
    return inner_.StartStep(deployment_id, name, started_at);
  }
  Awaitable<Status> FinishStep(int64_t step_id, store::StepStatus status, TimePoint finished_at,
                               std::string error) override {
    return inner_.FinishStep(step_id, status, finished_at, std::move(error));
  }
  Awaitable<Result<std::optional<store::Deployment>>> GetDeployment(int64_t id) override {
    return inner_.GetDeployment(id);
  }
  Awaitable<Result<store::RecordStore::Neighbours>> DeploymentNeighbours(
      int64_t id, std::string project) override {
    return inner_.DeploymentNeighbours(id, std::move(project));
  }
  Awaitable<Result<std::optional<store::Deployment>>> LatestDeployment(
      std::string project, std::optional<store::DeploymentStatus> status) override {
    return inner_.LatestDeployment(std::move(project), status);
  }
  Awaitable<Result<std::vector<store::RecordStore::StatusCount>>> CountDeployments() override {
    return inner_.CountDeployments();
  }
  Awaitable<Result<int>> InterruptUnfinished(TimePoint now, std::string why) override {
    return inner_.InterruptUnfinished(now, std::move(why));
  }
  Awaitable<Result<int>> InterruptUnfinishedOfProject(TimePoint now, std::string project,
                                                      std::string why) override {
    return inner_.InterruptUnfinishedOfProject(now, std::move(project), std::move(why));
  }
  Awaitable<Result<std::optional<int64_t>>> RecordHookEvent(store::HookEvent e) override {
    return inner_.RecordHookEvent(std::move(e));
  }
  Awaitable<Status> SetHookVerdict(int64_t id, std::string verdict) override {
    return inner_.SetHookVerdict(id, std::move(verdict));
  }
  Awaitable<Result<std::vector<store::HookEvent>>> ListHookEvents(int limit,
                                                                  int64_t before_id) override {
    return inner_.ListHookEvents(limit, before_id);
  }
  Awaitable<Status> AddPin(store::Pin pin) override { return inner_.AddPin(std::move(pin)); }
  Awaitable<Status> RemovePin(std::string project, std::string commit) override {
    return inner_.RemovePin(std::move(project), std::move(commit));
  }
  Awaitable<Result<std::vector<store::Pin>>> ListPins(std::string project) override {
    return inner_.ListPins(std::move(project));
  }

 private:
  store::AsyncRecordStore& inner_;
  asio::steady_timer gate_;
  bool open_ = false;
  std::atomic<int> lists_waiting_{0};
  std::atomic<int> lists_answered_{0};
};

TEST_F(ApiTest, AListWaitingOnTheRecordHoldsUpOnlyItsOwnRequest) {
  const int64_t id = AddDeployment("hello");
  asio::io_context io;
  GatedRecord record(store_->async_record(), io);
  ApiContext ctx = Context();
  ctx.record = &record;
  Server server(io, MakeApi(ctx));
  ASSERT_TRUE(server.Listen("127.0.0.1:0").ok());
  const std::string addr = "127.0.0.1:" + std::to_string(server.port());
  std::thread loop([&] { io.run(); });
  // However the test ends: lists waiting are let through, the server stops
  // and the loop is joined.
  struct Finally {
    std::function<void()> f;
    ~Finally() { f(); }
  } stop{[&] {
    asio::post(io, [&] {
      record.Open();
      server.Stop();
    });
    loop.join();
  }};

  // The list of deployments reaches the record and waits there...
  asio::io_context cio;
  asio::ip::tcp::socket list(cio);
  list.connect({asio::ip::make_address("127.0.0.1"), server.port()});
  const std::string ask = "GET /api/v1/deployments HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  asio::write(list, asio::buffer(ask));
  ASSERT_TRUE(
      testing::WaitUntil([&] { return record.lists_waiting() == 1; }, std::chrono::seconds(10)));

  // ... while the same loop answers another request, one that reads the
  // record too.
  auto other = Fetch("GET", addr, "/api/v1/deployments/" + std::to_string(id));
  ASSERT_TRUE(other.ok()) << other.error();
  EXPECT_EQ(other->status, 200) << other->body;
  EXPECT_EQ(json::parse(other->body)["id"], id);
  EXPECT_EQ(record.lists_waiting(), 1);
  EXPECT_EQ(record.lists_answered(), 0) << "the list did not wait for the gate";
  EXPECT_EQ(list.available(), 0u) << "the list was answered before the record was read";

  // The record answers: so does the list.
  asio::post(io, [&] { record.Open(); });
  asio::streambuf buf;
  const std::string got = ReadUntil(list, buf, "\"next_before\":null}\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("{\"deployments\":[{"), std::string::npos) << got;
  EXPECT_EQ(record.lists_answered(), 1);
}

}  // namespace
}  // namespace anthill::http
