#include "base/host_port.h"

namespace anthill {

Result<HostPort> SplitHostPort(std::string_view text) {
  auto fail = [&] {
    return Status::InvalidArgument("'" + std::string(text) + "' is not host:port");
  };
  HostPort out;
  std::string_view rest;  // what follows the host: "" or ":<port>"
  if (!text.empty() && text.front() == '[') {
    // An IPv6 literal holds colons of its own: only the brackets delimit it.
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail();
    out.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return fail();
  } else {
    size_t colon = text.rfind(':');
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  if (!rest.empty()) {
    out.has_port = true;
    out.port = std::string(rest.substr(1));
  }
  return out;
}

std::optional<int> ParsePort(std::string_view port) {
  if (port.empty() || port.size() > 5) return std::nullopt;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return std::nullopt;
  return value;
}

}  // namespace anthill
