#include "os/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

namespace anthill::os {

Result<FileLock> FileLock::Acquire(const std::filesystem::path& file) {
  // O_CLOEXEC: deployed programs must not inherit the lock, or a program
  // outliving Anthill would keep the next Anthill from starting.
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot open " + file.string() + ": " + strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status::Conflict("another anthill is already using this data dir (" + file.string() +
                              " is locked)");
    }
    return Status::Error("cannot lock " + file.string() + ": " + strerror(err));
  }
  // The pid, for whoever wonders which process holds it.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::write(fd, pid.data(), pid.size());
  return FileLock(fd);
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace anthill::os
