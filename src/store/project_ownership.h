// Which orchestrator runs each project, when several share one database
// (README, "A fleet"): each project's poller and planner run in exactly one
// orchestrator at a time, the one holding the project's lease. A holder
// renews its leases every second or so; one that stops answering (killed,
// cut off) lets them run out, and another orchestrator that has the project
// in its config takes it over. pg_project_ownership.h keeps it in
// PostgreSQL.
//
// An action that reaches an orchestrator not holding the project (a deploy
// by hand, a webhook's push, a cancel) is forwarded: kept in the database
// until the holder (now, or the next one) takes it, once.
//
// Parameters are taken by value: a call may outlive the caller's
// temporaries while it is suspended (async_record_store.h says more).
//
// Thread: plain values; a ProjectOwnership is called on its io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::store {

// An orchestrator, as it holds projects.
struct OrchestratorId {
  // Unique to one life of one process ("box-a/6f1c2e9a"): a restarted
  // orchestrator is a new holder, and takes its projects back only once its
  // previous life's leases ran out.
  std::string id;
  std::string machine;  // for people: "box-a"
  std::string url;      // its API, for people ("http://10.0.0.5:7070"); may be ""
};

// A project's holder as the database has it. Times are the database
// server's clock.
struct ProjectHolder {
  std::string project;
  OrchestratorId holder;
  TimePoint since{};  // when this holder took it
  TimePoint until{};  // when its lease runs out unless renewed
};

enum class ForwardedKind { kDeploy, kRollback, kNotify, kCancel, kStop, kStart };

inline constexpr std::pair<ForwardedKind, std::string_view> kForwardedKindWords[] = {
    {ForwardedKind::kDeploy, "deploy"}, {ForwardedKind::kRollback, "rollback"},
    {ForwardedKind::kNotify, "notify"}, {ForwardedKind::kCancel, "cancel"},
    {ForwardedKind::kStop, "stop"},     {ForwardedKind::kStart, "start"},
};
constexpr std::string_view ToString(ForwardedKind k) {
  for (const auto& [kind, word] : kForwardedKindWords) {
    if (kind == k) return word;
  }
  return "deploy";
}
constexpr std::optional<ForwardedKind> ParseForwardedKind(std::string_view word) {
  for (const auto& [kind, w] : kForwardedKindWords) {
    if (w == word) return kind;
  }
  return std::nullopt;
}

// An action for a project another orchestrator holds (Controller's calls,
// deploy/controller.h, as values).
struct ForwardedAction {
  int64_t id = 0;  // given by Forward
  std::string project;
  ForwardedKind kind = ForwardedKind::kDeploy;
  std::string ref;            // deploy, notify: "" for the project's rule
  std::string commit;         // notify: 40 hex, or ""
  std::string version;        // rollback: "" for the previous good release
  int64_t deployment_id = 0;  // cancel
  std::string trigger;        // notify: store::ToString(Trigger), "webhook"
  std::string actor;          // who asked
  std::string received_by;    // the orchestrator it reached (OrchestratorId::id)
  TimePoint received_at{};    // database clock
  std::optional<TimePoint> taken_at;
  std::string taken_by;  // the holder that took it
  std::string answer;    // what the holder made of it, for people
};

class ProjectOwnership {
 public:
  template <typename T>
  using Awaitable = boost::asio::awaitable<T>;

  virtual ~ProjectOwnership() = default;

  // For each of `projects`: renews the lease `me` holds, or takes the
  // project when no one holds it or its holder's lease ran out. Returns
  // those of `projects` that `me` holds once the call is made (each until
  // now + lease, by the database's clock), sorted by name; a renewal keeps
  // the holder's `since`, a takeover starts it anew. Two orchestrators
  // calling at once never both get one project. An empty `me.id` is
  // kInvalidArgument.
  virtual Awaitable<Result<std::vector<std::string>>> Hold(std::vector<std::string> projects,
                                                           OrchestratorId me) = 0;
  // Gives up `projects` held by `holder_id` (a clean stop): another
  // orchestrator may take them at once. Projects it does not hold are left.
  virtual Awaitable<Status> Release(std::vector<std::string> projects, std::string holder_id) = 0;
  // Every project's holder, expired leases too, by project name.
  virtual Awaitable<Result<std::vector<ProjectHolder>>> Holders() = 0;

  // Keeps `a` until the project's holder takes it; returns its id. Its id,
  // received_at and taken_* are the store's to set (received_at: now).
  // Text is stored as PgValidText does (bytes that are not UTF-8 become
  // U+FFFD). An empty project is kInvalidArgument.
  virtual Awaitable<Result<int64_t>> Forward(ForwardedAction a) = 0;
  // The actions not yet taken for projects `holder_id` holds under a live
  // lease, oldest first (by id), now marked taken by it: each action is
  // taken once, by one holder, even with several calling at once.
  virtual Awaitable<Result<std::vector<ForwardedAction>>> TakeForwarded(std::string holder_id) = 0;
  // Records what the holder made of action `id` ("deployment 12 queued: ...");
  // kNotFound for none.
  virtual Awaitable<Status> Answer(int64_t id, std::string answer) = 0;
  // Action `id`, as kept; kNotFound for none.
  virtual Awaitable<Result<ForwardedAction>> GetForwarded(int64_t id) = 0;
};

}  // namespace anthill::store
