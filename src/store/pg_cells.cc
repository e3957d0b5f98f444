#include "store/pg_cells.h"

#include <charconv>

#include "store/pg_connection.h"

namespace anthill::store {

PgCell PgText(std::string_view s) { return PgValidText(s); }
PgCell PgInt(int64_t v) { return std::to_string(v); }

PgCell PgTextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : PgValidText(items[i])) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

PgCell PgIntArray(const std::vector<int64_t>& items) {
  return PgMaybeIntArray({items.begin(), items.end()});
}

PgCell PgMaybeIntArray(const std::vector<std::optional<int64_t>>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i] ? std::to_string(*items[i]) : "NULL";
  }
  return out + "}";
}

std::vector<std::string> PgParseTextArray(const PgCell& cell) {
  std::vector<std::string> out;
  if (!cell || cell->size() < 2 || cell->front() != '{') return out;
  const std::string& t = *cell;
  size_t i = 1;
  while (i < t.size() && t[i] != '}') {
    std::string item;
    bool quoted = false;
    if (t[i] == '"') {
      quoted = true;
      for (++i; i < t.size() && t[i] != '"'; ++i) {
        if (t[i] == '\\' && i + 1 < t.size()) ++i;
        item += t[i];
      }
      ++i;  // the closing quote
    } else {
      while (i < t.size() && t[i] != ',' && t[i] != '}') item += t[i++];
    }
    if (quoted || item != "NULL") out.push_back(std::move(item));
    if (i < t.size() && t[i] == ',') ++i;
  }
  return out;
}

int64_t PgToInt(const PgCell& cell) {
  int64_t v = 0;
  if (cell) std::from_chars(cell->data(), cell->data() + cell->size(), v);
  return v;
}

std::string PgStr(const PgCell& cell) { return cell.value_or(""); }

std::optional<TimePoint> PgMaybeTime(const PgCell& cell) {
  if (!cell) return std::nullopt;
  return FromUnixMillis(PgToInt(cell));
}

std::string PgNotifySql(std::string_view channel, std::string_view prefix,
                        std::string_view column) {
  return "pg_notify('" + std::string(channel) + "', '" + std::string(prefix) + ":' || " +
         std::string(column) + ")";
}

}  // namespace anthill::store
