#include "store/sqlite.h"

#include <memory>

namespace anthill::store {

Stmt::Stmt(Db& db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) !=
      SQLITE_OK) {
    db.last_error_ = sqlite3_extended_errcode(db.handle());
    prepared_ = Status::Error(db.Error());
    status_ = prepared_;
  }
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt& Stmt::Bind(int i, std::string_view text) {
  if (stmt_) {
    // An empty string_view may have a null data(): SQLite would bind NULL,
    // and NULL = '' is not true.
    const char* data = text.data() ? text.data() : "";
    sqlite3_bind_text(stmt_, i, data, static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  return *this;
}

Stmt& Stmt::Bind(int i, int64_t value) {
  if (stmt_) sqlite3_bind_int64(stmt_, i, value);
  return *this;
}

Stmt& Stmt::BindNull(int i) {
  if (stmt_) sqlite3_bind_null(stmt_, i);
  return *this;
}

bool Stmt::Step() {
  if (!stmt_ || !status_.ok()) return false;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) {
    db_.last_error_ = sqlite3_extended_errcode(db_.handle());
    status_ = Status::Error(db_.Error());
  }
  return false;
}

Status Stmt::Run() {
  while (Step()) {
  }
  return status_;
}

std::string Stmt::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(stmt_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, col)) : "";
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::optional<int64_t> Stmt::MaybeInt(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return Int(col);
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& file) {
  sqlite3* handle = nullptr;
  int rc =
      sqlite3_open_v2(file.c_str(), &handle,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
    sqlite3_close(handle);
    return Status::Error("cannot open database " + file + ": " + msg);
  }
  // Short: the caller is the event loop. A write that finds the database
  // locked by another process longer than this is kept and made later
  // (store/write_behind.h) instead of stalling every project.
  sqlite3_busy_timeout(handle, 100);
  return std::unique_ptr<Db>(new Db(handle));
}

Db::~Db() { sqlite3_close(db_); }

bool Db::LastErrorIsTransient() const {
  switch (last_error_ & 0xff) {  // the primary code of an extended one
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    last_error_ = sqlite3_extended_errcode(db_);
    std::string msg = err ? err : Error();
    sqlite3_free(err);
    return Status::Error(msg);
  }
  return Status::Ok();
}

Status Db::InTransaction(const std::function<Status()>& body) {
  Status s = Exec("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  s = body();
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    const int failed = last_error_;
    (void)Exec("ROLLBACK");
    last_error_ = failed;
  }
  return s;
}

}  // namespace anthill::store
