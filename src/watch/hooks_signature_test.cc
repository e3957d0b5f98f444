// Which signatures verify: forge x (as sent, another secret, no header,
// tampered body, no secret configured, ...), over the deliveries checked in
// under src/watch/testdata/ (see hooks_testdata.h); and the HMAC itself.
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "base/strings.h"
#include "watch/hooks.h"
#include "watch/hooks_testdata.h"

namespace anthill::watch {
namespace {

struct Signature {
  std::string fixture;
  std::string what;
  Edit edit;
  std::string secret;  // the project's webhook_secret it is checked against
  std::string error;   // "": verifies
};

TEST(Signatures, OnlyTheSecretsOwnSignatureOverTheBodyAsSentVerifies) {
  const Edit tamper = [](Delivery& d) {
    std::string tampered = Tamper(d.body);
    EXPECT_NE(tampered, d.body);
    d.body = tampered;
  };
  const Edit upper_hex = [](Delivery& d) {
    for (char& c : d.headers["x-hub-signature-256"]) c = static_cast<char>(std::toupper(c));
  };
  const Edit no_prefix = [](Delivery& d) {
    d.headers["x-hub-signature-256"] = HmacSha256Hex(kSecret, d.body);
  };
  const Edit sha1_prefix = [](Delivery& d) {
    d.headers["x-hub-signature-256"] = "sha1=" + HmacSha256Hex(kSecret, d.body);
  };
  // What every forge is checked for: as sent it verifies; signed with another
  // secret (GitLab: another token of the same length), without its header, or
  // with no secret configured, it does not; with its body changed, neither.
  const struct {
    const char* fixture;
    const char* header;    // the one the signature (GitLab: the token) is in
    const char* other;     // another secret, signed with
    const char* mismatch;  // the error for it
    const char* tampered;  // the error for a changed body
  } forges[] = {
      {"github/push", "X-Hub-Signature-256", "another secret", "signature does not match",
       "signature does not match"},
      // GitLab signs nothing: its token is a password, the body is not covered.
      {"gitlab/push_hook", "X-Gitlab-Token", "It's a Secret to Everybodx",
       "X-Gitlab-Token does not match", ""},
      {"gitea/push", "X-Gitea-Signature", "wrong", "signature does not match",
       "signature does not match"},
      {"generic/push", "X-Anthill-Signature", "nope", "signature does not match",
       "signature does not match"},
  };
  // And each forge's own ways to get it wrong.
  std::vector<Signature> cases = {
      {"github/push", "upper-case hex", upper_hex, kSecret, ""},
      {"github/push", "no sha256= label", no_prefix, kSecret,
       "X-Hub-Signature-256 is not sha256=<hex>"},
      {"github/push", "sha1= label", sha1_prefix, kSecret,
       "X-Hub-Signature-256 is not sha256=<hex>"},
      {"github/push", "label alone", WithHeader("x-hub-signature-256", "sha256="), kSecret,
       "signature does not match"},
      {"gitlab/push_hook", "the token's beginning", WithHeader("x-gitlab-token", "It's a Secret"),
       kSecret, "X-Gitlab-Token does not match"},
      {"gitlab/push_hook", "an empty token", WithHeader("x-gitlab-token", ""), kSecret,
       "X-Gitlab-Token does not match"},
  };
  for (const auto& f : forges) {
    cases.push_back({f.fixture, "as sent", {}, kSecret, ""});
    cases.push_back({f.fixture, "another secret", SignedWith(f.other), kSecret, f.mismatch});
    cases.push_back({f.fixture, "no header", Without(AsciiLower(f.header)), kSecret,
                     "missing " + std::string(f.header) + " header"});
    cases.push_back({f.fixture, "tampered body", tamper, kSecret, f.tampered});
    cases.push_back(
        {f.fixture, "no secret configured", SignedWith(""), "", "no webhook secret configured"});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fixture + ": " + c.what);
    Delivery d = Load(c.fixture);
    const std::string sent = d.body;
    if (c.edit) c.edit(d);
    Status s = VerifySignature(d.forge, d.headers, d.body, c.secret);
    EXPECT_EQ(s.message(), c.error);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
      EXPECT_EQ(s.message().find(kSecret), std::string::npos) << "the secret is never told";
    }
    if (d.body != sent) {
      ASSERT_EQ(d.body.size(), sent.size());
      // The tampered body itself still parses: only the signature protects it.
      EXPECT_TRUE(ParsePush(d.forge, d.headers, d.body).ok());
    }
  }
}

TEST(Deliveries, GithubsFormBodyIsSignedAsSent) {
  Delivery d = Load("github/push_form");
  EXPECT_EQ(d.headers["content-type"], "application/x-www-form-urlencoded");
  EXPECT_TRUE(StartsWith(d.body, "payload="));
  EXPECT_NE(d.body.find('+'), std::string::npos);
  EXPECT_NE(d.body.find("%22"), std::string::npos);
  // The signature covers the form body as sent, not the JSON inside it.
  EXPECT_TRUE(VerifySignature(Forge::kGithub, d.headers, d.body, kSecret).ok());
}

TEST(Hmac, KnownAnswers) {
  // RFC 4231 test case 2, then test case 1 (20 bytes of 0x0b).
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // GitHub's "validating webhook deliveries" example.
  EXPECT_EQ(HmacSha256Hex(kSecret, "Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  EXPECT_EQ(HmacSha256Hex("key", "").size(), 64u);
}

}  // namespace
}  // namespace anthill::watch
