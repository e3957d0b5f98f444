#include "store/pg_job_listener.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <deque>

#include "base/strings.h"
#include "store/pg_listen_loop.h"

namespace anthill::store {
namespace asio = boost::asio;
template <typename T>
using Awaitable = asio::awaitable<T>;

namespace {

constexpr size_t kRecentDone = 1024;

// The job id of "<prefix>:<id>", or 0.
int64_t PayloadId(std::string_view payload, std::string_view prefix) {
  if (!StartsWith(payload, prefix)) return 0;
  std::string_view digits = payload.substr(prefix.size());
  int64_t id = 0;
  const char* end = digits.data() + digits.size();
  auto parsed = std::from_chars(digits.data(), end, id);
  return parsed.ec == std::errc() && parsed.ptr == end && id > 0 ? id : 0;
}

}  // namespace

// Everything the listening coroutine and the waits touch, shared, so that
// either can finish after the listener is gone.
struct PgJobListener::State : PgListenState {
  // One wait in flight: woken by cancelling its timer, which otherwise
  // expires at the caller's max_wait.
  struct Waiter {
    Waiter(const asio::any_io_executor& e, Duration max_wait, int64_t job)
        : timer(e, max_wait), job(job) {}
    asio::steady_timer timer;
    int64_t job;  // 0: waits for work
    bool woken = false;
  };

  State(asio::any_io_executor e, std::string info) : PgListenState(std::move(e), std::move(info)) {}

  // Wakes the waits `which` selects; returns how many.
  template <typename Pred>
  int Wake(Pred which) {
    int n = 0;
    for (Waiter* w : waiters) {
      if (!which(*w)) continue;
      w->woken = true;
      w->timer.cancel();
      ++n;
    }
    return n;
  }
  void WorkQueued() {
    // Nobody waits: the next WaitForWork returns at once instead.
    if (Wake([](const Waiter& w) { return w.job == 0; }) == 0) work_pending = true;
  }
  void JobDone(int64_t job) {
    recent_done.push_back(job);
    if (recent_done.size() > kRecentDone) recent_done.pop_front();
    Wake([job](const Waiter& w) { return w.job == job; });
  }

  std::vector<Waiter*> waiters;
  bool work_pending = false;
  std::deque<int64_t> recent_done;
};

PgJobListener::PgJobListener(asio::any_io_executor executor, std::string conninfo)
    : state_(std::make_shared<State>(std::move(executor), std::move(conninfo))) {}

PgJobListener::~PgJobListener() { Stop(); }

void PgJobListener::Start() {
  if (state_->started) return;
  state_->started = true;
  State* s = state_.get();
  auto listened = [s] {
    // Listening again after a drop: what was sent meanwhile is lost, so
    // every waiter looks at the database once.
    if (s->listens > 1) {
      s->WorkQueued();
      s->Wake([](const State::Waiter& w) { return w.job != 0; });
    }
  };
  auto heard = [s](std::string_view payload) {
    if (PayloadId(payload, "queued:") > 0) {
      s->WorkQueued();
    } else if (const int64_t job = PayloadId(payload, "done:"); job > 0) {
      s->JobDone(job);
    }
  };
  asio::co_spawn(state_->executor, RunPgListenLoop(state_, kPgJobsChannel, listened, heard),
                 asio::detached);
}

void PgJobListener::Stop() {
  State& s = *state_;
  s.PgListenState::Stop();
  for (auto* w : s.waiters) w->timer.cancel();  // not woken: they return false
}

bool PgJobListener::listening() const { return state_->listening; }
int64_t PgJobListener::listens() const { return state_->listens; }
Status PgJobListener::last_error() const { return state_->last_error; }

Awaitable<bool> PgJobListener::WaitForWork(Duration max_wait) {
  if (state_->work_pending) {
    state_->work_pending = false;
    co_return true;
  }
  const int64_t work = 0;
  const bool woken = co_await Wait(state_, work, max_wait);
  co_return woken;
}

Awaitable<bool> PgJobListener::WaitDone(int64_t job_id, Duration max_wait) {
  const auto& recent = state_->recent_done;
  if (std::find(recent.begin(), recent.end(), job_id) != recent.end()) co_return true;
  const bool woken = co_await Wait(state_, job_id, max_wait);
  co_return woken;
}

asio::awaitable<bool> PgJobListener::Wait(std::shared_ptr<State> s, int64_t job,
                                          Duration max_wait) {
  if (s->stopping) co_return false;
  State::Waiter w(s->executor, max_wait, job);
  s->waiters.push_back(&w);
  // The wait leaves the list however it ends, the coroutine's destruction
  // with its io_context included.
  struct Leave {
    State* s;
    State::Waiter* w;
    ~Leave() { std::erase(s->waiters, w); }
  } leave{s.get(), &w};
  boost::system::error_code ended;  // expired or cancelled: `woken` tells which
  auto until_ended = asio::redirect_error(asio::use_awaitable, ended);
  co_await w.timer.async_wait(until_ended);
  co_return w.woken;
}

}  // namespace anthill::store
