// Health checks of a freshly started program: an HTTP GET that answers 2xx or
// 3xx, a TCP connect, or a command that exits 0, probed every `interval`
// until it passes or `timeout` runs out. A program that exits meanwhile fails
// at once. With no check configured, staying up for `grace` is healthy.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/config.h"
#include "supervise/program.h"

namespace anthill::supervise {

struct HealthContext {
  std::filesystem::path cwd;     // for command checks: the release dir
  std::vector<std::string> env;  // for command checks
};

// Ok once healthy. Errors read "health check failed after 10.0 s: GET
// http://127.0.0.1:8080/healthz: status 500" or "exited during health check
// (exit 3)".
boost::asio::awaitable<Status> WaitHealthy(Program& program, const config::HealthCheck& check,
                                           const HealthContext& ctx);

// One probe, bounded by `limit`. Ok when healthy; the error says what it saw.
boost::asio::awaitable<Status> ProbeOnce(const config::HealthCheck& check, const HealthContext& ctx,
                                         Duration limit);

}  // namespace anthill::supervise
