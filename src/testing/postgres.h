// A PostgreSQL 15 server of a test's own: made with initdb in a TempDir,
// started with pg_ctl, listening on a Unix socket in that dir and on
// 127.0.0.1:<a free port>, without fsync (a test's data need not survive a
// crash). Debian's binaries (/usr/lib/postgresql/15/bin, from the
// postgresql-15 package) are preferred, then initdb and pg_ctl on PATH.
// As root, initdb and pg_ctl (which refuse root) run as the `postgres` system
// user, which then owns the temp dir; its parents must let that user through
// ($TMPDIR or /tmp do). Tests only.
//
// The constructor starts the server and, when it cannot, fails the test
// (ADD_FAILURE) with the reason: pg_ctl's output and the server's log. A test
// checks `ASSERT_TRUE(pg.ok()) << pg.error();` and never skips. The
// destructor stops the server at once (pg_ctl stop -m immediate) and the
// TempDir takes its files.
//
// Every client connects as the superuser `postgres`, with no password
// (`trust` authentication: only the test's own socket and loopback reach it).
//
// Thread: the test's.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "testing/testing.h"

namespace anthill::testing {

class Postgres {
 public:
  Postgres();
  ~Postgres();
  Postgres(const Postgres&) = delete;
  Postgres& operator=(const Postgres&) = delete;

  // Whether the server is up; when not, error() says why.
  bool ok() const { return started_; }
  const std::string& error() const { return error_; }

  int port() const { return port_; }
  // The directory of the server's Unix socket (and of its data and log).
  const std::filesystem::path& dir() const { return dir_.path(); }

  // A libpq keyword/value string for `database` over the Unix socket:
  // "host='<dir>' port=<port> user='postgres' dbname='<database>'".
  std::string ConnectionString(const std::string& database = "postgres") const;
  // The same database over TCP: "postgresql://postgres@127.0.0.1:<port>/<database>".
  std::string TcpUrl(const std::string& database = "postgres") const;

  // Creates a new, empty database (test_1, test_2, ...) and returns its
  // name, so each test starts from nothing on a shared server. Fails the
  // test and returns "" when psql cannot.
  std::string CreateDatabase();

 private:
  std::string Start();  // "" when started, else why not
  // argv as initdb and pg_ctl must run: as `postgres` when this is root.
  std::vector<std::string> AsServerUser(std::vector<std::string> argv) const;

  TempDir dir_;
  std::filesystem::path pg_ctl_;
  std::filesystem::path psql_;
  bool as_postgres_ = false;  // running as root: initdb and pg_ctl run as `postgres`
  bool started_ = false;
  int port_ = 0;
  int databases_ = 0;
  std::string error_;
};

}  // namespace anthill::testing
