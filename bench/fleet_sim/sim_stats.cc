#include "sim_stats.h"

#include <algorithm>

namespace anthill::sim {

nlohmann::json Latencies::ToJson() const {
  if (ms_.empty()) return {{"count", 0}};
  std::vector<double> sorted = ms_;
  std::sort(sorted.begin(), sorted.end());
  const auto at = [&](double q) {
    return sorted[std::min(sorted.size() - 1, static_cast<size_t>(q * sorted.size()))];
  };
  return {{"count", sorted.size()},
          {"p50_ms", at(0.50)},
          {"p99_ms", at(0.99)},
          {"max_ms", sorted.back()}};
}

nlohmann::json SimStats::ToJson() const {
  nlohmann::json by_deployment = nlohmann::json::object();
  for (const auto& [id, spans] : runs) {
    double first = spans.front().first, last = 0;
    for (const auto& [begin, end] : spans) {
      first = std::min(first, begin);
      last = std::max(last, end);
    }
    by_deployment[std::to_string(id)] = {
        {"runs", spans.size()}, {"first_switch_s", first}, {"last_done_s", last}};
  }
  return {{"report", report.ToJson()},
          {"poll_changed", poll_changed.ToJson()},
          {"poll_unchanged", poll_unchanged.ToJson()},
          {"download", download.ToJson()},
          {"requests_failed", requests_failed},
          {"failures", failures},
          {"bytes_received", bytes_received},
          {"reports_sent", reports_sent},
          {"reports_acked", reports_acked.size()},
          {"reports_acked_twice", reports_acked_twice},
          {"checksum_mismatches", checksum_mismatches},
          {"runs_done", runs_done},
          {"deployments", by_deployment},
          {"kills", kills},
          {"revivals", revivals}};
}

}  // namespace anthill::sim
