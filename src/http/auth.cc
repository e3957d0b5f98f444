#include "http/auth.h"

#include <openssl/crypto.h>

namespace anthill::http {

bool Authorized(const Request& req, const std::string& token) {
  if (token.empty()) return true;
  static const std::string kPrefix = "Bearer ";
  std::string header = req.Header("authorization");
  if (header.size() != kPrefix.size() + token.size() || header.rfind(kPrefix, 0) != 0) return false;
  return CRYPTO_memcmp(header.data() + kPrefix.size(), token.data(), token.size()) == 0;
}

}  // namespace anthill::http
