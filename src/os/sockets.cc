#include "os/sockets.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "base/host_port.h"

namespace anthill::os {

namespace {

std::string Errno(int err) { return strerror(err); }

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = 0;
};

Result<Address> Resolve(const std::string& spec) {
  Address a;
  if (spec.rfind("unix://", 0) == 0) {
    std::string path = spec.substr(7);
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof un.sun_path) {
      return Status::InvalidArgument("'" + spec + "': socket path empty or too long");
    }
    memcpy(un.sun_path, path.c_str(), path.size() + 1);
    memcpy(&a.storage, &un, sizeof un);
    a.length = sizeof un;
    a.family = AF_UNIX;
    return a;
  }
  if (spec.rfind("tcp://", 0) != 0) {
    return Status::InvalidArgument("'" + spec + "': want tcp:// or unix://");
  }
  auto hp = SplitHostPort(std::string_view(spec).substr(6));
  if (!hp.ok() || !hp->has_port) return Status::InvalidArgument("'" + spec + "': no port");
  const std::string& host = hp->host;
  const std::string& port = hp->port;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return Status::InvalidArgument("'" + spec + "': " + gai_strerror(rc));
  }
  memcpy(&a.storage, found->ai_addr, found->ai_addrlen);
  a.length = found->ai_addrlen;
  a.family = found->ai_family;
  freeaddrinfo(found);
  return a;
}

}  // namespace

Result<int> BindListener(const std::string& spec) {
  auto addr = Resolve(spec);
  if (!addr.ok()) return addr.status();
  int fd = socket(addr->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("socket for " + spec + ": " + Errno(errno));
  if (addr->family == AF_UNIX) {
    // A socket file left by an earlier life would make bind fail.
    std::error_code ec;
    std::filesystem::path path = spec.substr(7);
    if (std::filesystem::is_socket(path, ec)) std::filesystem::remove(path, ec);
  } else {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr->storage), addr->length) != 0 ||
      listen(fd, 4096) != 0) {
    int err = errno;
    close(fd);
    return Status::Error("cannot listen on " + spec + ": " + Errno(err));
  }
  return fd;
}

Result<int> TakeListenerFrom(int pidfd, int target_fd, const std::string& spec) {
  int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, target_fd, 0));
  if (fd < 0) return Status::Error("pidfd_getfd: " + Errno(errno));
  // It must be the listening socket of that address, not whatever the
  // program put at that number since.
  int listening = 0;
  socklen_t len = sizeof listening;
  sockaddr_storage have{};
  socklen_t have_len = sizeof have;
  auto want = Resolve(spec);
  bool same = want.ok() && getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
              listening && getsockname(fd, reinterpret_cast<sockaddr*>(&have), &have_len) == 0 &&
              have.ss_family == want->family;
  if (same && want->family == AF_UNIX) {
    same = strcmp(reinterpret_cast<sockaddr_un*>(&have)->sun_path,
                  reinterpret_cast<sockaddr_un*>(&want->storage)->sun_path) == 0;
  } else if (same && want->family == AF_INET) {
    auto* h = reinterpret_cast<sockaddr_in*>(&have);
    auto* w = reinterpret_cast<sockaddr_in*>(&want->storage);
    same = h->sin_port == w->sin_port && h->sin_addr.s_addr == w->sin_addr.s_addr;
  } else if (same && want->family == AF_INET6) {
    auto* h = reinterpret_cast<sockaddr_in6*>(&have);
    auto* w = reinterpret_cast<sockaddr_in6*>(&want->storage);
    same = h->sin6_port == w->sin6_port && memcmp(&h->sin6_addr, &w->sin6_addr, 16) == 0;
  }
  if (!same) {
    close(fd);
    return Status::Error("fd " + std::to_string(target_fd) + " is not the socket of " + spec);
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

std::string ListenerName(const std::string& spec) {
  std::string out;
  std::string rest = spec;
  for (const char* scheme : {"tcp://", "unix://"}) {
    if (rest.rfind(scheme, 0) == 0) {
      out = std::string(scheme, strlen(scheme) - 3) + "-";
      rest = rest.substr(strlen(scheme));
    }
  }
  for (char c : rest) {
    bool ok = isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    out += ok ? c : '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

void CloseFd(int fd) {
  if (fd >= 0) close(fd);
}

}  // namespace anthill::os
