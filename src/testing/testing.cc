#include "testing/testing.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "base/files.h"
#include "os/process.h"

namespace anthill::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/anthill-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  }
  path_ = std::filesystem::canonical(tmpl);
}

TempDir::~TempDir() {
  if (getenv("ANTHILL_KEEP_TEMP")) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds every) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

std::string Sh(const std::filesystem::path& dir, const std::string& script) {
  auto out = os::RunSync({"bash", "-euo", "pipefail", "-c", script}, dir);
  if (!out.ok()) {
    ADD_FAILURE() << "could not run script: " << out.error();
    return "";
  }
  if (!out->status.success()) {
    ADD_FAILURE() << "script failed (" << out->status.Describe() << "):\n"
                  << script << "\noutput:\n"
                  << out->output;
  }
  return out->output;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

std::string ReadFile(const std::filesystem::path& path) { return ReadWholeFile(path); }

std::filesystem::path SourcePath(const std::string& rel) {
  return std::filesystem::path(ANTHILL_SOURCE_DIR) / rel;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

}  // namespace anthill::testing

#include <signal.h>

namespace anthill::testing {

int KillProcessesUnder(const std::filesystem::path& dir) {
  int killed = 0;
  std::error_code ec;
  const std::string prefix = dir.string();
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code link_ec;
    auto cwd = std::filesystem::read_symlink(entry.path() / "cwd", link_ec);
    if (link_ec) continue;
    if (cwd.string().rfind(prefix, 0) == 0) {
      if (kill(std::stoi(name), SIGKILL) == 0) ++killed;
    }
  }
  return killed;
}

}  // namespace anthill::testing
