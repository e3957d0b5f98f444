#include "store/pg_listen_loop.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace anthill::store {

namespace asio = boost::asio;

namespace {

constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kLongestRetry{5000};

}  // namespace

PgListenState::PgListenState(asio::any_io_executor e, std::string info)
    : executor(std::move(e)), conninfo(std::move(info)), retry(executor) {}

void PgListenState::Stop() {
  stopping = true;
  listening = false;
  retry.cancel();
  if (conn) conn->CancelWait();
}

asio::awaitable<void> RunPgListenLoop(std::shared_ptr<PgListenState> s, std::string channel,
                                      std::function<void()> listened,
                                      std::function<void(std::string_view payload)> heard) {
  auto retry_after = kFirstRetry;
  while (!s->stopping) {
    auto made = co_await PgConnection::Connect(s->executor, s->conninfo);
    if (s->stopping) break;
    if (!made.ok()) {
      s->last_error = made.status();
    } else {
      s->conn = std::move(*made);
      Status listening = co_await s->conn->Listen(channel);
      if (!listening.ok()) s->last_error = listening;
      if (listening.ok() && !s->stopping) {
        s->listening = true;
        ++s->listens;
        retry_after = kFirstRetry;  // a connection that worked starts the backoff again
        listened();
      }
      while (s->listening && !s->stopping) {
        auto notifications = co_await s->conn->WaitForNotifications();
        if (s->stopping) break;
        if (!notifications.ok()) {
          s->last_error = notifications.status();
          break;
        }
        for (const auto& n : *notifications) {
          if (s->stopping) break;  // whoever was handed one may stop the listener
          if (n.channel == channel) heard(n.payload);
        }
      }
      s->listening = false;
      s->conn.reset();
    }
    if (s->stopping) break;
    s->retry.expires_after(retry_after);
    boost::system::error_code cancelled;  // by Stop
    auto woken = asio::redirect_error(asio::use_awaitable, cancelled);
    co_await s->retry.async_wait(woken);
    retry_after = std::min(retry_after * 2, kLongestRetry);
  }
  s->listening = false;
  s->conn.reset();
}

}  // namespace anthill::store
