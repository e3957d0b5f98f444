#include "store/pg_change_listener.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <chrono>

#include "base/strings.h"
#include "store/pg_connection.h"

namespace anthill::store {

namespace asio = boost::asio;

namespace {

constexpr std::chrono::milliseconds kFirstRetry{100};
constexpr std::chrono::milliseconds kLongestRetry{5000};

}  // namespace

std::optional<Change> ParseChangePayload(std::string_view payload) {
  constexpr std::string_view kDeployment = "deployment:", kProject = "project:";
  Change c;
  if (StartsWith(payload, kDeployment)) {
    std::string_view digits = payload.substr(kDeployment.size());
    const char* end = digits.data() + digits.size();
    auto parsed = std::from_chars(digits.data(), end, c.deployment_id);
    if (parsed.ec != std::errc() || parsed.ptr != end || c.deployment_id <= 0) return std::nullopt;
    c.kind = Change::Kind::kDeployment;
    return c;
  }
  if (StartsWith(payload, kProject) && payload.size() > kProject.size()) {
    c.kind = Change::Kind::kProject;
    c.project = std::string(payload.substr(kProject.size()));
    return c;
  }
  return std::nullopt;
}

// Everything the coroutine touches lives here, so that it can finish after
// the listener is gone: Stop() only sets `stopping` and cancels the waits.
struct PgChangeListener::State {
  State(asio::any_io_executor e, std::string info, ChangeFeed& f)
      : executor(std::move(e)), conninfo(std::move(info)), feed(&f), retry(executor) {}

  asio::any_io_executor executor;
  std::string conninfo;
  ChangeFeed* feed;  // not touched once stopping: it may be gone
  asio::steady_timer retry;
  std::unique_ptr<PgConnection> conn;
  bool started = false;
  bool stopping = false;
  bool listening = false;
  int64_t listens = 0;
  Status last_error;
};

PgChangeListener::PgChangeListener(asio::any_io_executor executor, std::string conninfo,
                                   ChangeFeed& feed)
    : state_(std::make_shared<State>(std::move(executor), std::move(conninfo), feed)) {}

PgChangeListener::~PgChangeListener() { Stop(); }

void PgChangeListener::Start() {
  if (state_->started) return;
  state_->started = true;
  asio::co_spawn(state_->executor, Run(state_), asio::detached);
}

void PgChangeListener::Stop() {
  State& s = *state_;
  s.stopping = true;
  s.listening = false;
  s.retry.cancel();
  if (s.conn) s.conn->CancelWait();
}

bool PgChangeListener::listening() const { return state_->listening; }
int64_t PgChangeListener::listens() const { return state_->listens; }
Status PgChangeListener::last_error() const { return state_->last_error; }

asio::awaitable<void> PgChangeListener::Run(std::shared_ptr<State> s) {
  auto retry_after = kFirstRetry;
  const std::string channel = kPgChangesChannel;
  while (!s->stopping) {
    auto made = co_await PgConnection::Connect(s->executor, s->conninfo);
    if (s->stopping) break;
    if (!made.ok()) {
      s->last_error = made.status();
    } else {
      s->conn = std::move(*made);
      Status listened = co_await s->conn->Listen(channel);
      if (!listened.ok()) s->last_error = listened;
      if (listened.ok() && !s->stopping) {
        s->listening = true;
        ++s->listens;
        retry_after = kFirstRetry;  // a connection that worked starts the backoff again
      }
      while (s->listening && !s->stopping) {
        auto heard = co_await s->conn->WaitForNotifications();
        if (s->stopping) break;
        if (!heard.ok()) {
          s->last_error = heard.status();
          break;
        }
        for (const auto& n : *heard) {
          if (s->stopping) break;  // a subscriber may stop the listener
          if (n.channel != channel) continue;
          if (auto change = ParseChangePayload(n.payload)) s->feed->Publish(*change);
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
