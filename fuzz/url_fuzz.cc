// The HTTP request target and query decoding (http/url.h), on whatever a
// client sends as the target of a request line, and host:port splitting
// (base/host_port.h). Checked: PercentEncode output decodes back to its
// input, both as a path and as a query value; what SplitHostPort splits joins
// back into its input.
// Corpus: fuzz/corpus/url/ (the API's and the UI's paths and queries).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/host_port.h"
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

  if (auto hp = anthill::SplitHostPort(input); hp.ok()) {
    const bool bracketed = !input.empty() && input.front() == '[';
    std::string back = bracketed ? "[" + hp->host + "]" : hp->host;
    if (hp->has_port) back += ":" + hp->port;
    Check(back == input);
  }
  return 0;
}
