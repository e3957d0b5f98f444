#include "http/url.h"

#include <cctype>

#include "base/host_port.h"
#include "base/strings.h"

namespace anthill::http {

void SplitTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query) {
  size_t q = target.find('?');
  *path = PercentDecode(target.substr(0, q), false);
  if (q == std::string_view::npos) return;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    size_t eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    if (!key.empty()) (*query)[key] = value;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
}

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad orchestrator URL '" + std::string(url) + "': " + why);
  };
  static constexpr std::string_view kScheme = "http://";
  if (AsciiLower(url.substr(0, kScheme.size())) != kScheme) return bad("want http://host:port");
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("no path after host:port");
  auto hp = SplitHostPort(rest);
  if (!hp.ok() || hp->host.empty()) return bad("want http://host:port");
  BaseUrl out;
  out.port = hp->port.empty() ? "80" : hp->port;
  if (!ParsePort(out.port)) return bad("the port is not 1 to 65535");
  out.url = std::string(kScheme) + std::string(rest);
  out.host = hp->host;
  out.host_header = std::string(rest);
  return out;
}

}  // namespace anthill::http
