// A thin RAII layer over the SQLite C API: a database handle and prepared
// statements with bound parameters (values never go into SQL text).
// Thread: the owner's thread.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill::store {

class Db;

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  const Status& prepared() const { return prepared_; }
  // Parameters are numbered from 1, as in SQLite.
  Stmt& Bind(int i, std::string_view text);
  Stmt& Bind(int i, int64_t value);
  Stmt& BindNull(int i);
  Stmt& Bind(int i, std::optional<int64_t> value) { return value ? Bind(i, *value) : BindNull(i); }
  // True while a row is available; errors end the loop and land in status().
  bool Step();
  // Runs a statement that returns no rows.
  Status Run();
  const Status& status() const { return status_; }

  std::string Text(int col) const;
  int64_t Int(int col) const;
  std::optional<int64_t> MaybeInt(int col) const;

 private:
  Db& db_;
  sqlite3_stmt* stmt_ = nullptr;
  Status prepared_;
  Status status_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& file);
  ~Db();
  sqlite3* handle() { return db_; }
  Status Exec(const std::string& sql);
  // Runs `body` in one write transaction (BEGIN IMMEDIATE ... COMMIT). When
  // body or the commit fails, rolls back and returns that failure, with
  // last_error() still the failed write's (not the rollback's): whether it
  // may pass (LastErrorIsTransient) is a question about the write.
  Status InTransaction(const std::function<Status()>& body);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  std::string Error() const { return sqlite3_errmsg(db_); }
  // The (extended) result code of the last statement or Exec that failed.
  int last_error() const { return last_error_; }
  // True for failures that say nothing about the write itself and may pass:
  // locked or busy, the disk full, an I/O error, a read-only file.
  bool LastErrorIsTransient() const;

 private:
  friend class Stmt;
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  int last_error_ = SQLITE_OK;
};

}  // namespace anthill::store
