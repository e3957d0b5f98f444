// `[server] database`: where the record lives, and opening it.
//
// Accepted values:
//   ""                          SQLite, the file anthill.db in data_dir (the default)
//   "/srv/anthill/anthill.db"   SQLite, that file; a relative path is taken
//                               from the config file's directory, as data_dir is
//   "sqlite:PATH"               the same, spelled as a URL: sqlite:///srv/a.db is
//   "sqlite://PATH"             /srv/a.db, sqlite://a.db is a.db; no PATH: the default
//   "postgresql://user@host:5432/anthill" (or "postgres://...")
//                               the record in PostgreSQL (libpq's URL, its
//                               query parameters included: ?sslmode=...); the
//                               machine's own state stays in data_dir/machine.db
// Refused, with the key named in the message:
//   a PostgreSQL URL holding a password (user:secret@ or ?password=): the
//                               config is read by many; libpq takes it from
//                               PGPASSWORD or ~/.pgpass instead
//   any other "scheme://..."    not a database Anthill knows
// Thread: any (plain values); Open as store.h says.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/store.h"

namespace anthill::store {

struct Database {
  std::filesystem::path sqlite_file;  // absolute when data_dir and config_dir are
  // Set when the record is in PostgreSQL: the URL as given (no password).
  std::string postgres;
  // This machine's state when the record is in PostgreSQL.
  std::filesystem::path machine_file;
};

// Reads the value of [server] database. `data_dir` holds the default file;
// `config_dir` is what a relative path is taken from. Errors start with
// "[server] database" and never repeat a URL's user or password.
Result<Database> ParseDatabase(std::string_view value, const std::filesystem::path& data_dir,
                               const std::filesystem::path& config_dir);

// Opens (creating if needed) what `database` names, for machine `machine`
// (OpenSqlite, or OpenPostgres on `executor`).
boost::asio::awaitable<Result<std::unique_ptr<Store>>> Open(boost::asio::any_io_executor executor,
                                                            Database database, std::string machine);

}  // namespace anthill::store
