// Small URL helpers: percent-decoding, query strings, the base URL of an
// orchestrator's API (host:port is base/host_port.h).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill::http {

// Escapes everything but unreserved characters (RFC 3986): safe in a path
// segment or a query value.
std::string PercentEncode(std::string_view s);
// "/x/y?a=1&b=%20" -> path "/x/y", query {a: "1", b: " "}.
void SplitTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query);

// An orchestrator's API as builders and agents are given it.
struct BaseUrl {
  std::string url;          // "http://127.0.0.1:7070" (no trailing '/')
  std::string host;         // "127.0.0.1", "::1", "orchestrator.example"
  std::string port;         // "7070"; "80" when the URL names none
  std::string host_header;  // as written in the URL: "127.0.0.1:7070", "[::1]:7070"
};
// Reads "http://host[:port][/]". kInvalidArgument ("bad orchestrator URL
// '<url>': ...") for another scheme (no TLS here), a path, no host, or a
// port that is not 1 to 65535.
Result<BaseUrl> ParseBaseUrl(std::string_view url);

}  // namespace anthill::http
