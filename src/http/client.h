// A small blocking HTTP client for the CLI: it talks to the running daemon.
// Thread: any; blocks the caller.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace anthill::http {

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;  // names lowercased
};

// method "GET"/"POST"/"DELETE"; host_port as in [server] listen ("0.0.0.0"
// and "::" are reached on loopback). token: sent as a Bearer token when not
// empty. Sends the address reached as Host, and Content-Type:
// application/json with any method but GET and HEAD. headers: more headers
// (a webhook's signature), set last. Errors say which address could not be
// reached and why; their kind is kTimedOut when an answer took too long,
// kUnavailable when the daemon could not be reached or did not answer,
// kInvalidArgument for an address that is not host:port. An answer of any
// HTTP status is a ClientResponse.
Result<ClientResponse> Fetch(const std::string& method, const std::string& host_port,
                             const std::string& target, const std::string& body = "",
                             const std::string& token = "",
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

}  // namespace anthill::http
