// What the fleet simulator counts and times, for bench/fleet_scale.py:
// requests by kind, their latencies (p50/p99), bytes received, reports sent
// and acknowledged (each id once), and when each agent got and finished
// each deployment's run. Written as one JSON object (ToJson).
//
// Thread: the simulator's one io_context thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace anthill::sim {

class Latencies {
 public:
  void Add(std::chrono::steady_clock::duration d) {
    ms_.push_back(std::chrono::duration<double, std::milli>(d).count());
  }
  size_t count() const { return ms_.size(); }
  // {"count": n, "p50_ms": ..., "p99_ms": ..., "max_ms": ...}
  nlohmann::json ToJson() const;

 private:
  std::vector<double> ms_;
};

struct SimStats {
  Latencies report;             // POST reports, answered 200
  Latencies poll_changed;       // desired polls answered with a newer generation
  Latencies poll_unchanged;     // desired polls answered when their wait ran out
  Latencies download;           // artifact GETs (agents that verify)
  int64_t requests_failed = 0;  // no answer, or not 200
  // Failures by what and why: "poll: HTTP 503", "report: timed out".
  std::map<std::string, int64_t> failures;
  int64_t bytes_received = 0;           // answer bodies
  int64_t reports_sent = 0;             // POSTs, retries included
  std::set<std::string> reports_acked;  // ids acknowledged (each counted once)
  int64_t reports_acked_twice = 0;      // a retry of an id already acknowledged
  int64_t checksum_mismatches = 0;
  int64_t runs_done = 0;  // (agent, deployment) pairs that ended succeeded
  // deployment id -> seconds (since the simulator started) of each run's
  // switch start and end, over all agents: batches' spans.
  std::map<int64_t, std::vector<std::pair<double, double>>> runs;
  int64_t kills = 0;
  int64_t revivals = 0;

  nlohmann::json ToJson() const;
};

}  // namespace anthill::sim
