// Helpers for tests: temp dirs, waiting on conditions with a deadline, shell
// set-up steps (making git repos) and free loopback ports. Tests only.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

namespace anthill::testing {

// A fresh directory under $TMPDIR, removed with everything in it on
// destruction (kept when ANTHILL_KEEP_TEMP is set, for debugging).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

// Polls pred every `every` until it is true or `timeout` passes; returns
// whether it became true. The way tests wait: on a condition, with a deadline.
bool WaitUntil(const std::function<bool()>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(30),
               std::chrono::milliseconds every = std::chrono::milliseconds(20));

// Runs a bash script in dir for test set-up; fails the test (ADD_FAILURE) and
// returns the output when it exits non-zero. Returns combined stdout+stderr.
std::string Sh(const std::filesystem::path& dir, const std::string& script);

// Writes text to path, creating parent dirs.
void WriteFile(const std::filesystem::path& path, const std::string& text);
// The whole file; empty when it cannot be read (base's ReadWholeFile).
std::string ReadFile(const std::filesystem::path& path);

// A file of the source tree, e.g. SourcePath("src/watch/testdata/github/push.http"):
// fixtures are read where they are checked in, not copied into the build.
std::filesystem::path SourcePath(const std::string& rel);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

}  // namespace anthill::testing

namespace anthill::testing {

// Sends SIGKILL to every process whose working directory is under dir (a
// test's deployed programs outlive Anthill by design; tests clean them up).
// Returns how many it signalled.
int KillProcessesUnder(const std::filesystem::path& dir);

}  // namespace anthill::testing
