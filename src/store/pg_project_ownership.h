// Project ownership (project_ownership.h) in PostgreSQL 15, beside the
// record and the build queue in the same database: tables project_holders
// and forwarded_actions (migration 3, pg_schema.cc), on pooled connections
// driven on the loop (PgPool).
//
// Choices of its own:
// - Hold is one INSERT ... ON CONFLICT DO UPDATE over all the projects,
//   which renews or takes a row only while it is the caller's or its lease
//   ran out. The server locks each row it decides on and judges the
//   condition on the row's latest committed version, so of two
//   orchestrators calling at once the second sees the first's lease and
//   is refused. Rows are taken in project order, so two callers never wait
//   for each other's locks crosswise (no deadlock).
// - Every time (since, until, received_at, taken_at) is the database
//   server's clock, now() in unix milliseconds: a lease is given and judged
//   by one clock, whatever the orchestrators' clocks say. A lease is live
//   while until > now; from until on, anyone may take the project.
// - TakeForwarded is one statement: the untaken actions of the projects the
//   caller holds under a live lease are locked FOR UPDATE SKIP LOCKED and
//   marked taken, so callers at once take each action once, without waiting
//   for one another. An action of a kind this build does not know (a newer
//   Anthill's) is left for a holder that does.
// - Notifications, sent in the transaction of the write, on kPgOwnersChannel:
//   "forwarded:<project>" when an action is kept for the project's holder,
//   "released:<project>" when its holder lets it go.
// - Text goes through PgValidText, as in PgRecordStore: bytes that are not
//   UTF-8 (a ref, an actor) are stored as U+FFFD, never refused.
//
// Thread: the io_context thread of the executor it was opened with. It must
// outlive every call in flight.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/pg_pool.h"
#include "store/project_ownership.h"

namespace anthill::store {

// The channel ownership changes and forwarded actions are notified on.
inline constexpr char kPgOwnersChannel[] = "anthill_owners";

class PgProjectOwnership final : public ProjectOwnership {
 public:
  struct Options {
    // How long a Hold keeps a project for its holder.
    Duration lease{10000};
    // Connections of its pool: its statements are short and few (a Hold
    // and a TakeForwarded a second or so), one is enough.
    size_t connections = 1;
  };

  // Connects to `conninfo` (PgConnection::Connect's forms) and brings the
  // schema up to date (MigratePgSchema). Errors as PgRecordStore::Open's,
  // prefixed "project ownership".
  static Awaitable<Result<std::unique_ptr<PgProjectOwnership>>> Open(
      boost::asio::any_io_executor executor, std::string conninfo, Options options);

  Awaitable<Result<std::vector<std::string>>> Hold(std::vector<std::string> projects,
                                                   OrchestratorId me) override;
  Awaitable<Status> Release(std::vector<std::string> projects, std::string holder_id) override;
  Awaitable<Result<std::vector<ProjectHolder>>> Holders() override;
  Awaitable<Result<int64_t>> Forward(ForwardedAction a) override;
  Awaitable<Result<std::vector<ForwardedAction>>> TakeForwarded(std::string holder_id) override;
  Awaitable<Status> Answer(int64_t id, std::string answer) override;
  Awaitable<Result<ForwardedAction>> GetForwarded(int64_t id) override;

  const Options& options() const { return options_; }

 private:
  PgProjectOwnership(boost::asio::any_io_executor executor, std::string conninfo, Options options);
  // Runs one statement on a pooled connection; its error is prefixed
  // "project ownership: <what>".
  Awaitable<Result<PgResult>> Run(const std::string& what, const std::string& sql,
                                  const PgParams& params);

  PgPool pool_;
  Options options_;
};

}  // namespace anthill::store
