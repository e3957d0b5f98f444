// "host:port" as Anthill reads it everywhere: [server] listen, the CLI's
// address of the daemon, a listen = "tcp://..." socket, a tcp or http health
// check, an HTTP Host header. One parser, so that "[::1]:80" means the same in
// each of them.
// Thread: any; pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill {

struct HostPort {
  std::string host;       // without brackets: "127.0.0.1", "::1", "example.com"; may be empty
  std::string port;       // as written after the ':'; empty when there is none
  bool has_port = false;  // a ':' followed the host (the port after it may still be empty)
};

// Splits at the last ':', or after the ']' of a bracketed IPv6 literal:
//   "127.0.0.1:7070" -> "127.0.0.1", "7070"     "[::1]:80" -> "::1", "80"
//   "example.com"    -> "example.com", none     ":8080"    -> "", "8080"
// An unbracketed host keeps any other colons ("::1:80" -> "::1", "80"); what
// each caller accepts (a host required, a port required, a name without ':')
// is its own rule. Fails, kInvalidArgument "'<text>' is not host:port", only
// when the text cannot be split: a '[' without ']', or after the ']' anything
// but ":port".
Result<HostPort> SplitHostPort(std::string_view text);

// The port as a number when it is 1 to 65535 in decimal digits ("08080" too);
// nullopt otherwise (empty, a name, a sign, 0, 65536).
std::optional<int> ParsePort(std::string_view port);

}  // namespace anthill
