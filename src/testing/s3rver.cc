#include "testing/s3rver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <regex>

namespace anthill::testing {

namespace {

// Whether something accepts a TCP connection on 127.0.0.1:port.
bool Answers(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string Describe(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return "killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "ended";
}

}  // namespace

S3rver::S3rver(const std::vector<std::string>& buckets) {
  error_ = Start(buckets);
  started_ = error_.empty();
  if (!started_) {
    Stop();
    ADD_FAILURE() << "s3rver did not start: " << error_;
  }
}

S3rver::~S3rver() { Stop(); }

void S3rver::Stop() {
  if (!running_) return;
  running_ = false;
  // SIGKILL, to the whole group (node and anything it started): nothing of
  // a test's server needs to be saved.
  Status signalled = os::SignalGroup(child_.pid(), SIGKILL);
  if (!signalled.ok()) ADD_FAILURE() << "s3rver did not stop: " << signalled.message();
  int status = 0;
  while (waitpid(child_.pid(), &status, 0) < 0 && errno == EINTR) {
  }
}

std::string S3rver::Start(const std::vector<std::string>& buckets) {
  const std::filesystem::path script = SourcePath("tests/s3/node_modules/s3rver/bin/s3rver.js");
  if (!std::filesystem::exists(script)) {
    return script.string() +
           " is missing: scripts/install-deps.sh installs s3rver (npm ci in tests/s3)";
  }
  const std::filesystem::path log = dir_ / "s3rver.log";
  os::SpawnOptions options;
  // -p 0: the kernel picks a free port and s3rver prints it, so no other
  // process can take it between a choice and the bind.
  options.argv = {"node", script.string(), "-d", (dir_ / "data").string(),
                  "-a",   "127.0.0.1",     "-p", "0"};
  for (const std::string& bucket : buckets) {
    options.argv.push_back("--configure-bucket");
    options.argv.push_back(bucket);
  }
  options.env = os::CurrentEnvironment();
  options.cwd = dir_.path();
  options.output = log;
  Result<os::Child> child = os::Spawn(options);
  if (!child.ok()) return "cannot run node (Node.js; scripts/install-deps.sh): " + child.error();
  child_ = std::move(*child);
  running_ = true;

  // s3rver prints "S3rver listening on 127.0.0.1:<port>" once its server
  // is listening; or it exits (a missing module, a bad option).
  const std::regex listening(R"(S3rver listening on [0-9.]+:([0-9]+))");
  std::string exited;
  bool listens = WaitUntil([&] {
    std::smatch m;
    std::string text = ReadFile(log);
    if (std::regex_search(text, m, listening)) {
      port_ = std::stoi(m[1].str());
      return true;
    }
    int status = 0;
    if (waitpid(child_.pid(), &status, WNOHANG) == child_.pid()) {
      running_ = false;
      exited = Describe(status);
      return true;
    }
    return false;
  });
  if (!exited.empty()) return "s3rver exited (" + exited + ") before listening:\n" + Log();
  if (!listens) return "s3rver did not listen within 30 s:\n" + Log();
  if (!WaitUntil([&] { return Answers(port_); }, std::chrono::seconds(10))) {
    return "s3rver said it listens on port " + std::to_string(port_) +
           " but takes no connection:\n" + Log();
  }
  return "";
}

std::string S3rver::Endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::filesystem::path S3rver::ObjectFile(const std::string& bucket, const std::string& key) const {
  return dir_ / "data" / bucket / (key + "._S3rver_object");
}

std::string S3rver::ObjectMetadata(const std::string& bucket, const std::string& key) const {
  return ReadFile(dir_ / "data" / bucket / (key + "._S3rver_metadata.json"));
}

std::string S3rver::Log() const { return ReadFile(dir_ / "s3rver.log"); }

}  // namespace anthill::testing
