#include "base/files.h"

#include <fstream>
#include <sstream>

namespace anthill {

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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

}  // namespace anthill
