// The HTTP request target and query decoding (http/url.h), on whatever a
// client sends as the target of a request line, and host:port splitting.
// Checked: PercentEncode output decodes back to its input, both as a path and
// as a query value; SplitHostPort only says yes with a non-empty host and port.
// Corpus: fuzz/corpus/url/ (the API's and the UI's paths and queries).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "http/url.h"

namespace {
void Check(bool ok) {
  if (!ok) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string path;
  std::map<std::string, std::string> query;
  anthill::http::SplitTarget(input, &path, &query);
  for (const auto& [k, v] : query) Check(!k.empty());

  const std::string encoded = anthill::http::PercentEncode(input);
  Check(anthill::PercentDecode(encoded, false) == input);
  std::string p2;
  std::map<std::string, std::string> q2;
  anthill::http::SplitTarget("/x/" + encoded + "?v=" + encoded + "&w", &p2, &q2);
  Check(p2 == "/x/" + std::string(input));
  Check(q2["v"] == input);
  Check(q2.count("w") == 1 && q2["w"].empty());

  std::string host, port;
  if (anthill::http::SplitHostPort(std::string(input), &host, &port)) {
    Check(!host.empty() && !port.empty());
  }
  return 0;
}
