#include "supervise/app_log.h"

#include <string>

namespace anthill::supervise {

namespace fs = std::filesystem;

Result<bool> RotateIfLarger(const fs::path& log, int64_t max_size, int keep) {
  std::error_code ec;
  auto size = fs::file_size(log, ec);
  if (ec || static_cast<int64_t>(size) <= max_size) return false;
  auto numbered = [&](int i) { return fs::path(log.string() + "." + std::to_string(i)); };
  fs::remove(numbered(keep), ec);
  for (int i = keep - 1; i >= 1; --i) {
    if (fs::exists(numbered(i), ec)) {
      fs::rename(numbered(i), numbered(i + 1), ec);
      if (ec) return Status::Error("cannot rotate " + numbered(i).string() + ": " + ec.message());
    }
  }
  fs::copy_file(log, numbered(1), fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::Error("cannot copy " + log.string() + ": " + ec.message());
  fs::resize_file(log, 0, ec);
  if (ec) return Status::Error("cannot truncate " + log.string() + ": " + ec.message());
  return true;
}

}  // namespace anthill::supervise
