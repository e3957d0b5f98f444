#include "supervise/output_summary.h"

#include <algorithm>
#include <iterator>
#include <vector>

#include "base/strings.h"

namespace anthill::supervise {

std::string SummarizeOutput(std::string_view output) {
  std::vector<std::string> lines;
  for (auto& line : SplitLines(output)) {
    std::string_view t = Trim(line);
    if (!t.empty()) lines.emplace_back(t);
  }
  if (lines.empty()) return "";
  const size_t last = lines.size() > 3 ? lines.size() - 3 : 0;
  static const char* kWords[] = {"Error", "error", "Exception", "panic", "Traceback",
                                 "fatal", "FATAL", "cannot",    "Cannot"};
  std::string out;
  for (size_t i = 0; i < last; ++i) {
    if (std::any_of(std::begin(kWords), std::end(kWords),
                    [&](const char* w) { return lines[i].find(w) != std::string::npos; })) {
      out = lines[i] + " ... ";
      break;
    }
  }
  for (size_t i = last; i < lines.size(); ++i) out += (i == last ? "" : " / ") + lines[i];
  if (out.size() > 600) out = out.substr(0, 300) + " ... " + out.substr(out.size() - 300);
  return out;
}

}  // namespace anthill::supervise
