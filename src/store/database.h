// `[server] database`: where the record lives, and opening it.
//
// Accepted values:
//   ""                          SQLite, the file anthill.db in data_dir (the default)
//   "/srv/anthill/anthill.db"   SQLite, that file; a relative path is taken
//                               from the config file's directory, as data_dir is
//   "sqlite:PATH"               the same, spelled as a URL: sqlite:///srv/a.db is
//   "sqlite://PATH"             /srv/a.db, sqlite://a.db is a.db; no PATH: the default
// Refused, with the key named in the message:
//   "postgresql://..." or "postgres://..."  the PostgreSQL backend is not built
//                               yet (issue 14); refused rather than ignored, so
//                               a fleet is never started on a local file by mistake
//   any other "scheme://..."    not a database Anthill knows
// Thread: any (plain values); Open as store.h says.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "store/store.h"

namespace anthill::store {

struct Database {
  std::filesystem::path sqlite_file;  // absolute when data_dir and config_dir are
};

// Reads the value of [server] database. `data_dir` holds the default file;
// `config_dir` is what a relative path is taken from. Errors start with
// "[server] database" and never repeat a URL's user or password.
Result<Database> ParseDatabase(std::string_view value, const std::filesystem::path& data_dir,
                               const std::filesystem::path& config_dir);

// Opens (creating if needed) what `database` names, for machine `machine`
// (see OpenSqlite).
Result<std::unique_ptr<Store>> Open(const Database& database, std::string_view machine);

}  // namespace anthill::store
