// Plain-text tables for the CLI's listings.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace anthill::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // A line under the last row (an error, say), indented and not measured,
  // so a long message does not widen every column.
  void AddNote(std::string note) { notes_[rows_.size() - 1].push_back(std::move(note)); }
  // Columns padded to their widest cell, two spaces apart.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
  std::map<size_t, std::vector<std::string>> notes_;  // by row index
};

}  // namespace anthill::cli
