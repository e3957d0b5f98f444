// Small URL helpers: percent-decoding, query strings (host:port is
// base/host_port.h).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace anthill::http {

// Escapes everything but unreserved characters (RFC 3986): safe in a path
// segment or a query value.
std::string PercentEncode(std::string_view s);
// "/x/y?a=1&b=%20" -> path "/x/y", query {a: "1", b: " "}.
void SplitTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query);

}  // namespace anthill::http
