// An exclusive lock on a file, held for the life of the process (flock).
// Two Anthills on one data dir would deploy over each other; the second one
// is refused at start-up instead.
#pragma once

#include <filesystem>

#include "base/status.h"

namespace anthill::os {

class FileLock {
 public:
  // Creates the file if needed and takes the lock without waiting. The error
  // says another process holds it.
  static Result<FileLock> Acquire(const std::filesystem::path& file);
  FileLock(FileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace anthill::os
