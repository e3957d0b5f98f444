#include "artifact/digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace anthill::artifact {

namespace {

std::string ErrnoText() { return std::strerror(errno); }

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Fails only when OpenSSL cannot allocate: nothing sensible is left to do.
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const void* data, size_t size) {
  if (size > 0) EVP_DigestUpdate(ctx_, data, size);
}

std::string Sha256::HexDigest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_, digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xf];
  }
  return out;
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::filesystem::path TempSibling(const std::filesystem::path& path) {
  static std::atomic<uint64_t> counter{0};
  // Hidden (a leading dot) so a listing of the directory does not show a
  // half-written file as if it were one.
  std::string name = "." + path.filename().string() + ".tmp-" + std::to_string(getpid()) + "-" +
                     std::to_string(++counter);
  return path.parent_path() / name;
}

Result<Packed> CopyHashing(const std::filesystem::path& from, const std::filesystem::path& to) {
  int in = open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    std::string why = "cannot open " + from.string() + ": " + ErrnoText();
    return errno == ENOENT ? Status::NotFound(why) : Status::Internal(why);
  }
  int out = open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    std::string why = "cannot create " + to.string() + ": " + ErrnoText();
    close(in);
    return Status::Internal(why);
  }
  Sha256 sha;
  Packed packed{"", 0};
  std::vector<char> buffer(1 << 16);
  std::string failed;
  while (failed.empty()) {
    ssize_t n = read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed = "cannot read " + from.string() + ": " + ErrnoText();
      break;
    }
    if (n == 0) break;
    sha.Update(buffer.data(), static_cast<size_t>(n));
    packed.size += n;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        failed = "cannot write " + to.string() + ": " + ErrnoText();
        break;
      }
      done += w;
    }
  }
  // fsync before the caller renames: a crash must not leave a complete-
  // looking name over bytes that never reached the disk.
  if (failed.empty() && fsync(out) != 0) failed = "cannot sync " + to.string() + ": " + ErrnoText();
  if (close(out) != 0 && failed.empty()) {
    failed = "cannot close " + to.string() + ": " + ErrnoText();
  }
  close(in);
  if (!failed.empty()) {
    unlink(to.c_str());
    return Status::Internal(failed);
  }
  packed.sha256 = sha.HexDigest();
  return packed;
}

Status Verify(std::string_view what, const Packed& got, std::string_view sha256, int64_t size) {
  if (got.size != size) {
    return Status::InvalidArgument("size mismatch for " + std::string(what) + ": expected " +
                                   std::to_string(size) + " bytes, got " +
                                   std::to_string(got.size));
  }
  if (got.sha256 != sha256) {
    return Status::InvalidArgument("checksum mismatch for " + std::string(what) +
                                   ": expected sha256 " + std::string(sha256) + ", got " +
                                   got.sha256);
  }
  return Status::Ok();
}

}  // namespace anthill::artifact
