#include "store/database.h"

#include <string>

#include "base/strings.h"
#include "store/pg_store.h"

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

// Whether a PostgreSQL URL carries a password: "user:secret@" before the
// host, or a password= query parameter.
bool HoldsPassword(std::string_view url) {
  std::string_view rest = url.substr(url.find("://") + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos) {
    return true;
  }
  const size_t query = rest.find('?');
  if (query == std::string_view::npos) return false;
  std::string_view params = rest.substr(query + 1);
  while (!params.empty()) {
    const size_t amp = params.find('&');
    std::string_view param = params.substr(0, amp);
    if (AsciiLower(param.substr(0, 9)) == "password=") return true;
    if (amp == std::string_view::npos) break;
    params.remove_prefix(amp + 1);
  }
  return false;
}

}  // namespace

Result<Database> ParseDatabase(std::string_view value, const std::filesystem::path& data_dir,
                               const std::filesystem::path& config_dir) {
  std::string_view path = value;
  const std::string scheme = AsciiLower(SchemeOf(value));
  if (scheme == "postgresql" || scheme == "postgres") {
    if (HoldsPassword(value)) {
      // Only the scheme is repeated: the rest holds a password.
      return Status::InvalidArgument(
          std::string(kKey) + ": the \"" + scheme +
          "://...\" URL holds a password; the config is no place for it: "
          "set PGPASSWORD in Anthill's environment or put it in ~/.pgpass");
    }
    Database db;
    db.postgres = std::string(value);
    db.machine_file = data_dir / "machine.db";
    return db;
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

boost::asio::awaitable<Result<std::unique_ptr<Store>>> Open(boost::asio::any_io_executor executor,
                                                            Database database,
                                                            std::string machine) {
  if (!database.postgres.empty()) {
    co_return co_await OpenPostgres(executor, database.postgres, machine, database.machine_file);
  }
  auto local = OpenSqlite(database.sqlite_file, machine);
  if (!local.ok()) co_return local.status();
  co_return std::unique_ptr<Store>(std::move(local.value()));
}

}  // namespace anthill::store
