#include "watch/hooks_headers.h"

#include "base/strings.h"

namespace anthill::watch {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

std::optional<std::string> Header(const Headers& headers, const std::string& name) {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return std::string(Trim(it->second));
}

std::string FirstHeader(const Headers& headers, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto v = Header(headers, name);
    if (v && !v->empty()) return *v;
  }
  return "";
}

}  // namespace anthill::watch
