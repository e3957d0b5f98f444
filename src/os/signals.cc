#include "os/signals.h"

#include <signal.h>

#include <boost/asio/signal_set.hpp>
#include <cctype>
#include <memory>

namespace anthill::os {

namespace {

struct Named {
  const char* name;
  int number;
};
constexpr Named kSignals[] = {{"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},     {"SIGQUIT", SIGQUIT},
                              {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1},   {"SIGUSR2", SIGUSR2},
                              {"SIGTERM", SIGTERM}, {"SIGABRT", SIGABRT},   {"SIGSEGV", SIGSEGV},
                              {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM},   {"SIGCONT", SIGCONT},
                              {"SIGSTOP", SIGSTOP}, {"SIGWINCH", SIGWINCH}, {"SIGBUS", SIGBUS},
                              {"SIGFPE", SIGFPE},   {"SIGILL", SIGILL},     {"SIGTRAP", SIGTRAP}};

}  // namespace

Result<int> SignalFromName(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!upper.empty() && upper.find_first_not_of("0123456789") == std::string::npos &&
      upper.size() < 4) {
    int n = std::stoi(upper);
    for (const auto& s : kSignals) {
      if (s.number == n) return n;
    }
  }
  if (upper.rfind("SIG", 0) != 0) upper = "SIG" + upper;
  for (const auto& s : kSignals) {
    if (upper == s.name) return s.number;
  }
  return Status::InvalidArgument("unknown signal '" + std::string(name) + "'");
}

std::string SignalName(int sig) {
  for (const auto& s : kSignals) {
    if (s.number == sig) return s.name;
  }
  return "signal " + std::to_string(sig);
}

namespace {

// Re-arms itself after each signal. The pending wait owns it (and through it
// the signal_set); the io_context destroys both when it shuts down, so
// nothing leaks and no cycle of shared_ptrs outlives the loop.
struct TerminationHandler {
  std::shared_ptr<boost::asio::signal_set> signals;
  std::function<void(int)> on_stop;
  void operator()(const boost::system::error_code& ec, int sig) const {
    if (ec) return;
    on_stop(sig);
    // Keep listening: a second signal must not fall back to the default
    // action and kill Anthill in the middle of recording.
    signals->async_wait(*this);
  }
};

}  // namespace

void HandleTerminationSignals(boost::asio::io_context& io, std::function<void(int)> on_stop) {
  // Writes to a closed socket must be errors, not a dead Anthill.
  signal(SIGPIPE, SIG_IGN);
  auto signals = std::make_shared<boost::asio::signal_set>(io, SIGTERM, SIGINT);
  signals->async_wait(TerminationHandler{signals, std::move(on_stop)});
}

}  // namespace anthill::os
