// Agents' reports applied many at a time, for PgAgentFleet::ApplyReport.
//
// At 10,000 agents an orchestrator hears about a thousand reports a second;
// one transaction of ten statements each was most of the database's work
// and queued reports for seconds. The reports waiting when a transaction
// can start are applied together in one, with one statement per kind of
// row whatever their number, with the meaning each report alone would have:
// - the agents' rows are locked in name order (as SetDesired locks them);
//   a report of an unknown machine is refused alone (kNotFound);
// - a report id applied before (or twice in the batch) changes nothing but
//   last_seen_at;
// - a step key reported more than once in the batch (its start, then its
//   end) is written once, as its last report leaves it: an end wins over a
//   start, whatever the order; a key two machines claim is written for each
//   in turn (the row stays its maker's);
// - a (machine, project) state reported more than once: the last wins.
//
// Thread: the io_context thread of the connection.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/agent_fleet.h"
#include "store/pg_connection.h"

namespace anthill::store {

// One report waiting to be applied, and what applying it did.
struct QueuedReport {
  std::string machine;
  AgentReport report;
  // Set by ApplyReportsOn: kNotFound for an unknown machine, else Ok (the
  // transaction's own failure is the caller's to give each report).
  Status result;
  bool applied = false;            // its id was new: its steps and states are in
  std::set<std::string> projects;  // what it was about, when applied
};

struct ApplyReportsOptions {
  Duration keep_reports{0};  // report ids older than this are deleted...
  bool prune = false;        // ...in this call, for the batch's machines
};

// Applies `batch` on `c`, inside a transaction the caller opened. Errors
// are the failing statement's, prefixed with what it was writing.
boost::asio::awaitable<Status> ApplyReportsOn(PgConnection& c,
                                              const std::vector<QueuedReport*>& batch,
                                              ApplyReportsOptions options);

}  // namespace anthill::store
