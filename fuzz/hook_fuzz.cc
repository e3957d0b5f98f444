// One forge's webhook handling (watch/hooks.h), as the HTTP layer calls it on
// a POST /hooks/<forge>: the signature check over the raw body, then parsing.
// Built once per forge (ANTHILL_FUZZ_FORGE = "github", "gitlab", ...).
//
// Input: header lines "name: value" (names lowercased, as the HTTP layer
// hands them over), an empty line, then the body; without an empty line it
// is all body. Seeds: the forge's real deliveries with their headers, kept
// once in src/watch/testdata/<forge>/*.http (watch/hooks_test checks them),
// and fuzz/corpus/hook_<forge>/ (variants of them, crashes found).
//
// Besides not crashing, checked (each a __builtin_trap when broken):
//  - the body signed correctly with the secret verifies, and not under
//    another secret; the secret never appears in an error;
//  - a parsed push carries a ref under refs/ and a 40-hex lowercase commit;
//  - DescribeDelivery agrees with ParsePush on event and delivery id.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/strings.h"
#include "watch/hooks.h"

namespace {

using anthill::watch::Forge;
using anthill::watch::Headers;

constexpr std::string_view kSecret = "It's a Secret to Everybody";

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

Headers ParseHeaders(std::string_view block) {
  Headers h;
  while (!block.empty()) {
    size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(anthill::Trim(line.substr(0, colon)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h[name] = std::string(anthill::Trim(line.substr(colon + 1)));
  }
  return h;
}

// The headers with a correct signature (or token) for body under secret.
Headers Signed(Forge forge, Headers h, std::string_view body, std::string_view secret) {
  const std::string mac = anthill::watch::HmacSha256Hex(secret, body);
  switch (forge) {
    case Forge::kGithub:
      h["x-hub-signature-256"] = "sha256=" + mac;
      break;
    case Forge::kGitea:
      h["x-gitea-signature"] = mac;
      break;
    case Forge::kGeneric:
      h["x-anthill-signature"] = "sha256=" + mac;
      break;
    case Forge::kGitlab:
      h["x-gitlab-token"] = std::string(secret);
      break;
  }
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Forge forge = [] {
    Forge f{};
    Check(anthill::watch::ParseForge(ANTHILL_FUZZ_FORGE, &f));
    return f;
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view body = input;
  Headers headers;
  if (size_t blank = input.find("\n\n"); blank != std::string_view::npos) {
    headers = ParseHeaders(input.substr(0, blank));
    body = input.substr(blank + 2);
  }

  // The signature as sent, then as a forge holding the secret would send it.
  anthill::Status as_sent = anthill::watch::VerifySignature(forge, headers, body, kSecret);
  Check(as_sent.message().find(kSecret) == std::string::npos);
  Headers good = Signed(forge, headers, body, kSecret);
  Check(anthill::watch::VerifySignature(forge, good, body, kSecret).ok());
  // Under another secret (or none) the same headers must not pass.
  Check(!anthill::watch::VerifySignature(forge, good, body, "another secret").ok());
  Check(!anthill::watch::VerifySignature(forge, good, body, "").ok());

  auto push = anthill::watch::ParsePush(forge, good, body);
  anthill::watch::PushEvent seen = anthill::watch::DescribeDelivery(forge, good);
  if (push.ok()) {
    Check(push->delivery_id == seen.delivery_id);
    if (forge != Forge::kGitlab) Check(push->event == seen.event);
    if (push->is_push) {
      Check(anthill::StartsWith(push->ref, "refs/") && push->ref.size() > 5);
      Check(anthill::IsFullSha(push->commit));
    }
    for (const auto& url : push->repo_urls) {
      Check(!url.empty());
      (void)anthill::watch::NormalizeRepoUrl(url);
      Check(anthill::watch::RepoMatches(push->repo_urls, url) ==
            !anthill::watch::NormalizeRepoUrl(url).empty());
    }
  }
  // The body as a repository URL: NormalizeRepoUrl takes anything.
  (void)anthill::watch::NormalizeRepoUrl(body.substr(0, 512));
  return 0;
}
