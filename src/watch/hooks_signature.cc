// VerifySignature and HmacSha256Hex (hooks.h): each forge's proof that a
// delivery comes from someone holding the project's webhook secret.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/strings.h"
#include "watch/hooks.h"
#include "watch/hooks_headers.h"

namespace anthill::watch {
namespace {

// Constant-time equality. The length is not secret (it is a property of the
// algorithm, or of a token the sender chose), so it is checked first.
bool SafeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// "<prefix><hex HMAC>" in header `name`, checked against body under secret.
Status CheckHmacHeader(const Headers& headers, const std::string& name,
                       std::string_view display_name, std::string_view prefix,
                       std::string_view body, std::string_view secret) {
  auto value = Header(headers, name);
  if (!value) return Status::Unauthenticated("missing " + std::string(display_name) + " header");
  std::string_view got = *value;
  if (!prefix.empty()) {
    // The algorithm label is not secret; a wrong one is a configuration error
    // worth naming rather than a plain mismatch.
    if (got.size() < prefix.size() || !EqualsIgnoreCase(got.substr(0, prefix.size()), prefix)) {
      return Status::Unauthenticated(std::string(display_name) + " is not " + std::string(prefix) +
                                     "<hex>");
    }
    got.remove_prefix(prefix.size());
  }
  std::string expected = HmacSha256Hex(secret, body);
  // Hex case carries no meaning; senders are free to use either.
  if (expected.empty() || !SafeEqual(AsciiLower(got), expected)) {
    return Status::Unauthenticated("signature does not match");
  }
  return Status::Ok();
}

}  // namespace

std::string HmacSha256Hex(std::string_view secret, std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // OpenSSL may treat a null key or data pointer as "not given" even with a
  // zero length; an empty view's data() can be null, so point at a real byte.
  static const unsigned char kNothing = 0;
  const void* key = secret.empty() ? &kNothing : static_cast<const void*>(secret.data());
  const unsigned char* data =
      body.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(body.data());
  if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), data, body.size(), md, &md_len) ==
      nullptr) {
    return "";
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(md_len * 2);
  for (unsigned int i = 0; i < md_len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Status VerifySignature(Forge forge, const Headers& headers, std::string_view body,
                       std::string_view secret) {
  // An empty key would make every signature computable by anyone.
  if (secret.empty()) return Status::Unauthenticated("no webhook secret configured");
  switch (forge) {
    case Forge::kGithub:
      return CheckHmacHeader(headers, "x-hub-signature-256", "X-Hub-Signature-256", "sha256=", body,
                             secret);
    case Forge::kGitea:
      return CheckHmacHeader(headers, "x-gitea-signature", "X-Gitea-Signature", "", body, secret);
    case Forge::kGeneric:
      return CheckHmacHeader(headers, "x-anthill-signature", "X-Anthill-Signature", "sha256=", body,
                             secret);
    case Forge::kGitlab: {
      // GitLab signs nothing: the token itself is the proof, so it is compared
      // like a password.
      auto token = Header(headers, "x-gitlab-token");
      if (!token) return Status::Unauthenticated("missing X-Gitlab-Token header");
      if (!SafeEqual(*token, secret))
        return Status::Unauthenticated("X-Gitlab-Token does not match");
      return Status::Ok();
    }
  }
  return Status::Unauthenticated("unknown forge");
}

}  // namespace anthill::watch
