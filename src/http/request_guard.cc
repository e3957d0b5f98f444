#include "http/request_guard.h"

#include <boost/asio/ip/address.hpp>
#include <cctype>

#include "base/host_port.h"
#include "base/strings.h"
#include "http/reply.h"

namespace anthill::http {

namespace {

// A Host header's or an origin's "Name:port" -> name "name", port "port"
// (empty when absent); "[::1]:80" -> "::1", "80". False when it is not of
// that form: no name, a port that is not digits, or a name with a ':' outside
// brackets ("::1:80" is no Host a browser sends).
bool SplitHost(std::string_view hp, std::string* name, std::string* port) {
  auto split = SplitHostPort(hp);
  if (!split.ok()) return false;
  const bool bracketed = !hp.empty() && hp.front() == '[';
  if (!bracketed && split->host.find(':') != std::string::npos) return false;
  *name = AsciiLower(split->host);
  *port = split->port;
  if (!name->empty() && name->back() == '.') name->pop_back();  // "localhost." is localhost
  return !name->empty() && port->find_first_not_of("0123456789") == std::string::npos;
}

bool IsIpAddress(const std::string& name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  return !ec;
}

bool Mutating(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// Whether an Origin ("http://127.0.0.1:7070") is the same host and port as
// the Host header. "null" (sandboxed frames, file: pages) is never.
bool SameOrigin(std::string_view origin, std::string_view host_header) {
  size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string scheme = AsciiLower(origin.substr(0, scheme_end));
  std::string o_name, o_port, h_name, h_port;
  if (!SplitHost(origin.substr(scheme_end + 3), &o_name, &o_port)) return false;
  if (!SplitHost(host_header, &h_name, &h_port)) return false;
  const std::string default_port = scheme == "https" ? "443" : "80";
  if (o_port.empty()) o_port = default_port;
  // A proxy may pass the Host without the port the browser used.
  if (h_port.empty()) h_port = o_port;
  return o_name == h_name && o_port == h_port;
}

}  // namespace

bool HostAllowed(std::string_view host_header, const HostRule& rule) {
  std::string name, port;
  if (!SplitHost(host_header, &name, &port)) return false;
  if (name == "localhost" || IsIpAddress(name)) return true;
  for (const auto* list : {&rule.allowed_hosts, &rule.own_names}) {
    for (const auto& allowed : *list) {
      if (!allowed.empty() && AsciiLower(allowed) == name) return true;
    }
  }
  return false;
}

std::optional<Response> GuardRequest(const Request& req, const HostRule& rule) {
  const std::string& p = req.path;
  if (p.rfind("/hooks/", 0) == 0 || p == "/healthz") return std::nullopt;
  const auto host = req.headers.find("host");
  if (host != req.headers.end() && !HostAllowed(host->second, rule)) {
    std::string name, port;
    SplitHost(host->second, &name, &port);
    return ErrorResponse(421, "this Anthill does not answer to the name '" + host->second +
                                  "' (a guard against DNS rebinding); if it is yours, add \"" +
                                  name + "\" to allowed_hosts in [server] of anthill.toml");
  }
  if (p.rfind("/api/", 0) != 0 || !Mutating(req.method)) return std::nullopt;
  const std::string site = AsciiLower(req.Header("sec-fetch-site"));
  if (site == "cross-site" || site == "same-site") {
    return ErrorResponse(
        403,
        "refused a " + site + " request: the API acts only for its own pages, the CLI and tokens");
  }
  const auto origin = req.headers.find("origin");
  if (origin != req.headers.end() &&
      (host == req.headers.end() || !SameOrigin(origin->second, host->second))) {
    return ErrorResponse(403, "refused a request from the page of another origin (" +
                                  origin->second +
                                  "): the API acts only for its own pages, the CLI and tokens");
  }
  // An artifact upload's body is an archive, not JSON. The JSON rule keeps
  // other sites' pages from sending "simple" cross-site requests, and a PUT
  // never is one (a browser asks a CORS preflight first, which Anthill never
  // grants): the method meets the rule.
  if (req.method == "PUT" && p.rfind("/api/v1/artifacts/", 0) == 0) return std::nullopt;
  std::string type = AsciiLower(req.Header("content-type"));
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  if (type != "application/json") {
    return ErrorResponse(
        415,
        req.method + " " + p + " needs Content-Type: application/json (even with an empty body)");
  }
  return std::nullopt;
}

}  // namespace anthill::http
