// Refusals for requests a browser can be made to send against the user's
// will (issue 12):
//  - DNS rebinding: a page of evil.example whose name is made to point at
//    127.0.0.1 reads and acts as if it were ours. Its requests say
//    "Host: evil.example", so a Host that is not one of our names is refused.
//  - Cross-site requests: any page may POST text/plain to 127.0.0.1:7070
//    without asking (a "simple" request). Requests that change something
//    must be application/json (which a page of another origin cannot send
//    without a CORS preflight we never grant), and not come from another
//    site by the browser's own account (Sec-Fetch-Site, Origin).
// Thread: plain functions of their arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace anthill::http {

struct HostRule {
  // [server] allowed_hosts: names (no port) a proxy or a DNS entry serves us under.
  std::vector<std::string> allowed_hosts;
  // This machine's own names: its host name, [server] machine.
  std::vector<std::string> own_names;
};

// Whether a Host header value ("127.0.0.1:7070", "[::1]", "deploy.example.com")
// names this server: localhost, any IP address, one of rule's names. The port
// is not checked: a rebinding page cannot choose our name, whatever its port,
// and an ssh tunnel (-L 9000:127.0.0.1:7070) changes the port legitimately.
bool HostAllowed(std::string_view host_header, const HostRule& rule);

// The refusal for req, or nullopt when it may be served. In this order:
// 421 for a Host that is not ours (every path but /hooks/* and /healthz, which
// forges and load balancers reach under any name and which reveal nothing);
// then, for a method other than GET/HEAD/OPTIONS on /api/: 403 when the
// browser says the request is cross-site or same-site (Sec-Fetch-Site) or its
// Origin is not the Host, and 415 when the body is not Content-Type:
// application/json (even an empty one; an artifact upload, PUT
// /api/v1/artifacts/..., is an archive and exempt: a browser never sends a
// cross-site PUT without a preflight). A request without Host, Origin or
// Sec-Fetch-Site is not from a browser and passes those checks.
std::optional<Response> GuardRequest(const Request& req, const HostRule& rule);

}  // namespace anthill::http
