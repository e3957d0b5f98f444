// SHA-256 of bytes as they stream past, and the verified copy built on it:
// every store checks what it received against what the record says before
// anything is renamed into place.
// Thread: any; a Sha256 belongs to one thread at a time.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "artifact/pack.h"
#include "base/status.h"

namespace anthill::artifact {

// Incremental SHA-256 (OpenSSL's EVP interface).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  // The digest of everything given so far, lowercase hex (64 characters).
  // Call once; the object is spent afterwards.
  std::string HexDigest();

 private:
  EVP_MD_CTX* ctx_;
};

// Whether s is 64 lowercase hex digits (how an ArtifactRef spells a digest).
bool IsSha256Hex(std::string_view s);

// A name beside `path` for writing before a rename onto it:
// "<dir>/.<name>.tmp-<pid>-<n>", unique in this process and, through the
// pid, among processes sharing the directory.
std::filesystem::path TempSibling(const std::filesystem::path& path);

// Copies `from` to `to`, a new file (mode 0644; it must not exist), hashing
// the bytes as they pass, and flushes `to` to disk. On error `to` is removed
// and the message names the file that failed.
Result<Packed> CopyHashing(const std::filesystem::path& from, const std::filesystem::path& to);

// Ok when `got` has `size` bytes and SHA-256 `sha256`. Otherwise
// kInvalidArgument, "size mismatch for <what>: expected <n> bytes, got <m>"
// or "checksum mismatch for <what>: expected sha256 <x>, got <y>" (size is
// checked first: it says more about a truncated transfer).
Status Verify(std::string_view what, const Packed& got, std::string_view sha256, int64_t size);

}  // namespace anthill::artifact
