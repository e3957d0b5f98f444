#include "base/files.h"

#include <string.h>

#include <cerrno>
#include <fstream>

namespace anthill {

namespace {

Status Failed(const char* what, const std::filesystem::path& path, int error) {
  return Status::Error(error == ENOENT ? StatusCode::kNotFound : StatusCode::kInternal,
                       std::string(what) + path.string() + ": " + strerror(error));
}

}  // namespace

Result<std::string> ReadFile(const std::filesystem::path& path) {
  // errno after a failed open is the open's (libstdc++ opens with fopen); a
  // directory opens, and fails on the first read with EISDIR.
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Failed("cannot read ", path, errno != 0 ? errno : EIO);
  std::string out;
  char chunk[64 * 1024];
  // Read to the end rather than by file_size(): /proc files say 0 and still
  // have content, and a log may grow while it is read.
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    out.append(chunk, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Failed("cannot read ", path, errno != 0 ? errno : EIO);
  return out;
}

std::string ReadWholeFile(const std::filesystem::path& path) {
  auto text = ReadFile(path);
  return text.ok() ? std::move(text).value() : std::string();
}

std::string ReadFileTail(const std::filesystem::path& path, uintmax_t offset, size_t max_bytes) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  // A log rotated since (copy-and-truncate) is shorter than where it was.
  if (ec || size <= offset) return "";
  const uintmax_t from = size - offset > max_bytes ? size - max_bytes : offset;
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(from));
  std::string out(static_cast<size_t>(size - from), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

Status AppendToFile(const std::filesystem::path& path, std::string_view text) {
  errno = 0;
  std::ofstream out(path, std::ios::app | std::ios::binary);
  if (!out) return Failed("cannot append to ", path, errno != 0 ? errno : EIO);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out) return Failed("cannot append to ", path, errno != 0 ? errno : EIO);
  return Status::Ok();
}

bool IsPathBelow(std::string_view relative_path) {
  const std::filesystem::path path(relative_path);
  if (relative_path.empty() || !path.is_relative()) return false;
  for (const auto& part : path) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

}  // namespace anthill
