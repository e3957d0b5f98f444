#include "http/url.h"

#include <cctype>

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
    std::string value = eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    if (!key.empty()) (*query)[key] = value;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
}

bool SplitHostPort(const std::string& hp, std::string* host, std::string* port) {
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string::npos || close + 1 >= hp.size() || hp[close + 1] != ':') return false;
    *host = hp.substr(1, close - 1);
    *port = hp.substr(close + 2);
  } else {
    size_t colon = hp.rfind(':');
    if (colon == std::string::npos) return false;
    *host = hp.substr(0, colon);
    *port = hp.substr(colon + 1);
  }
  return !host->empty() && !port->empty();
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

}  // namespace anthill::http
