// Signal names and Anthill's own signal handling. Only os/ touches signals.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill::os {

// "SIGTERM", "TERM", "sigterm" or "15" -> 15. Errors name the text.
Result<int> SignalFromName(std::string_view name);
// 15 -> "SIGTERM"; unknown numbers -> "signal 99".
std::string SignalName(int sig);

// Ignores SIGPIPE for this process (writes to closed sockets become errors)
// and calls on_stop once on the first SIGTERM or SIGINT.
void HandleTerminationSignals(boost::asio::io_context& io, std::function<void(int)> on_stop);

}  // namespace anthill::os
