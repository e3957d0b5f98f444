#include "store/database.h"

#include <string>

#include "base/strings.h"

namespace anthill::store {

namespace {

constexpr const char* kKey = "[server] database";
constexpr std::string_view kSqlite = "sqlite:";

// The scheme of "scheme://...", or empty when the value is not a URL (then
// it is a path; a path may hold a ':' but not a scheme-shaped head with "//").
std::string_view SchemeOf(std::string_view value) {
  const size_t colon = value.find("://");
  if (colon == std::string_view::npos || colon == 0) return {};
  for (size_t i = 0; i < colon; ++i) {
    const char c = value[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!letter && !(i > 0 && other)) return {};
  }
  return value.substr(0, colon);
}

}  // namespace

Result<Database> ParseDatabase(std::string_view value, const std::filesystem::path& data_dir,
                               const std::filesystem::path& config_dir) {
  std::string_view path = value;
  const std::string scheme = AsciiLower(SchemeOf(value));
  if (scheme == "postgresql" || scheme == "postgres") {
    // Only the scheme is repeated: the rest may hold a password.
    return Status::InvalidArgument(
        std::string(kKey) + ": \"" + scheme +
        "://...\" asks for PostgreSQL, and its backend is not built yet "
        "(issue 14); leave database empty for SQLite in data_dir, or give a "
        "SQLite file path");
  }
  if (!scheme.empty() && scheme != "sqlite") {
    return Status::InvalidArgument(
        std::string(kKey) + ": unknown scheme \"" + scheme +
        "://\"; give a SQLite file path (or sqlite:PATH), or leave it empty for "
        "SQLite in data_dir");
  }
  if (AsciiLower(path.substr(0, kSqlite.size())) == kSqlite) {
    path.remove_prefix(kSqlite.size());
    if (path.substr(0, 2) == "//") path.remove_prefix(2);
  }
  Database db;
  if (path.empty()) {
    db.sqlite_file = data_dir / "anthill.db";
    return db;
  }
  std::filesystem::path file(path);
  if (file.is_relative()) file = config_dir / file;
  db.sqlite_file = file.lexically_normal();
  if (!db.sqlite_file.has_filename()) {
    return Status::InvalidArgument(std::string(kKey) + ": \"" + std::string(value) +
                                   "\" names a directory; give the SQLite file's path");
  }
  return db;
}

Result<std::unique_ptr<Store>> Open(const Database& database, std::string_view machine) {
  return OpenSqlite(database.sqlite_file, machine);
}

}  // namespace anthill::store
