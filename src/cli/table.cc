#include "cli/table.h"

#include <algorithm>

namespace anthill::cli {

namespace {
// Columns are lined up in characters, not bytes: the API's text is UTF-8
// (a byte that was not is shown as U+FFFD, three bytes wide in UTF-8), and a
// terminal shows each code point in one column for the text Anthill prints.
size_t Width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // not a continuation byte
  }));
}
}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  for (size_t r = 0; r < rows_.size(); ++r) {
    const auto& row = rows_[r];
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - Width(row[i]) + 2, ' ');
    }
    out << line << "\n";
    if (auto it = notes_.find(r); it != notes_.end()) {
      for (const auto& note : it->second) out << "    " << note << "\n";
    }
  }
}

}  // namespace anthill::cli
