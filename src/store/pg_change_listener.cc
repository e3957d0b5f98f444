#include "store/pg_change_listener.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <charconv>

#include "base/strings.h"
#include "store/pg_listen_loop.h"

namespace anthill::store {

namespace asio = boost::asio;

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
struct PgChangeListener::State : PgListenState {
  State(asio::any_io_executor e, std::string info, ChangeFeed& f)
      : PgListenState(std::move(e), std::move(info)), feed(&f) {}

  ChangeFeed* feed;  // not touched once stopping: it may be gone
};

PgChangeListener::PgChangeListener(asio::any_io_executor executor, std::string conninfo,
                                   ChangeFeed& feed)
    : state_(std::make_shared<State>(std::move(executor), std::move(conninfo), feed)) {}

PgChangeListener::~PgChangeListener() { Stop(); }

void PgChangeListener::Start() {
  if (state_->started) return;
  state_->started = true;
  State* s = state_.get();
  asio::co_spawn(state_->executor,
                 RunPgListenLoop(
                     state_, kPgChangesChannel, [] {},
                     [s](std::string_view payload) {
                       if (auto change = ParseChangePayload(payload)) s->feed->Publish(*change);
                     }),
                 asio::detached);
}

void PgChangeListener::Stop() { state_->Stop(); }

bool PgChangeListener::listening() const { return state_->listening; }
int64_t PgChangeListener::listens() const { return state_->listens; }
Status PgChangeListener::last_error() const { return state_->last_error; }

}  // namespace anthill::store
