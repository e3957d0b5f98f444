#include "testing/postgres.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "os/process.h"

namespace anthill::testing {

namespace {

// Debian's binaries first: a PATH may hold another major version's
// wrappers (or none at all, Debian keeps them out of PATH). Otherwise the
// bare name, which os/ looks up in PATH when it runs it (and names it in
// the error when it is nowhere).
std::string FindBinary(const std::string& name) {
  std::string debian = "/usr/lib/postgresql/15/bin/" + name;
  return access(debian.c_str(), X_OK) == 0 ? debian : name;
}

// A libpq keyword/value string quotes a value in '...' with \ escaping ' and \.
std::string Quoted(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// Runs argv to completion; "" when it exited 0, else its status and output.
std::string Run(const std::vector<std::string>& argv, const std::filesystem::path& cwd) {
  auto out = os::RunSync(argv, cwd);
  if (!out.ok()) return argv[0] + ": " + out.error();
  if (out->status.success()) return "";
  std::string command;
  for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
  return command + " failed (" + out->status.Describe() + "):\n" + out->output;
}

}  // namespace

Postgres::Postgres() {
  error_ = Start();
  started_ = error_.empty();
  if (!started_) ADD_FAILURE() << "PostgreSQL did not start: " << error_;
}

Postgres::~Postgres() {
  if (!started_) return;
  std::string failed = Run(AsServerUser({pg_ctl_.string(), "stop", "-D", (dir() / "data").string(),
                                         "-m", "immediate", "-w", "-s"}),
                           dir());
  if (!failed.empty()) ADD_FAILURE() << "PostgreSQL did not stop: " << failed;
}

std::string Postgres::Start() {
  const std::string initdb = FindBinary("initdb");
  pg_ctl_ = FindBinary("pg_ctl");
  psql_ = FindBinary("psql");
  // initdb and the server refuse to run as root (a server that can be made
  // to run code must not own the machine): as root, they run as `postgres`,
  // which must then own the dir they write.
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return "running as root and there is no `postgres` user to run initdb as";
    if (chown(dir().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return "chown " + dir().string() + " to postgres failed";
    }
    as_postgres_ = true;
  }
  const std::filesystem::path data = dir() / "data";
  const std::filesystem::path log = dir() / "postgres.log";

  // -A trust: no password; only this test's socket and loopback reach it.
  // --no-sync and C locale: fast and the same on every machine.
  std::string failed =
      Run(AsServerUser({initdb, "-D", data.string(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                        "--locale=C", "--no-sync", "--no-instructions"}),
          dir());
  if (!failed.empty()) return failed + "\n(scripts/install-deps.sh installs postgresql-15)";

  // A port free a moment ago may be taken before the server binds it: then
  // the server exits at once and another port is tried.
  std::string why;
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreePort();
    {
      std::ofstream conf(data / "postgresql.conf", std::ios::app);
      conf << "\n# testing::Postgres\n"
           << "listen_addresses = '127.0.0.1'\n"
           << "port = " << port_ << "\n"
           << "unix_socket_directories = " << Quoted(dir().string()) << "\n"
           << "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
           << "shared_buffers = 16MB\nmax_connections = 20\n";
    }
    // -w: pg_ctl returns when the server accepts connections (or has
    // exited, or 30 s passed): a wait on the condition, with a deadline.
    failed = Run(AsServerUser({pg_ctl_.string(), "start", "-D", data.string(), "-l", log.string(),
                               "-w", "-t", "30", "-s"}),
                 dir());
    if (failed.empty()) return "";
    // pg_ctl gave up (its time limit) on a server that may still come up:
    // stopped, so that no server outlives the test.
    Run(AsServerUser({pg_ctl_.string(), "stop", "-D", data.string(), "-m", "immediate", "-s"}),
        dir());
    std::string server_log = ReadFile(log);
    why = failed + "\nserver log (" + log.string() + "):\n" + server_log;
    if (server_log.find("Address already in use") == std::string::npos) break;
  }
  return why;
}

std::vector<std::string> Postgres::AsServerUser(std::vector<std::string> argv) const {
  if (as_postgres_) argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  return argv;
}

std::string Postgres::ConnectionString(const std::string& database) const {
  return "host=" + Quoted(dir().string()) + " port=" + std::to_string(port_) +
         " user='postgres' dbname=" + Quoted(database);
}

std::string Postgres::TcpUrl(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string Postgres::CreateDatabase() {
  std::string name = "test_" + std::to_string(++databases_);
  std::string failed = Run({psql_.string(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                            ConnectionString(), "-c", "CREATE DATABASE " + name},
                           dir());
  if (!failed.empty()) {
    ADD_FAILURE() << failed;
    return "";
  }
  return name;
}

}  // namespace anthill::testing
