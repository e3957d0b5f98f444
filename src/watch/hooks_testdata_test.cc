// The helpers of hooks_testdata.h (no tests of its own): a *_test.cc so that
// they are linked into watch_tests only.
#include "watch/hooks_testdata.h"

#include <gtest/gtest.h>

#include "base/strings.h"
#include "testing/testing.h"

namespace anthill::watch {

Delivery Load(const std::string& name) {
  Delivery d;
  EXPECT_TRUE(ParseForge(name.substr(0, name.find('/')), &d.forge)) << name;
  const std::string text =
      testing::ReadFile(testing::SourcePath("src/watch/testdata/" + name + ".http"));
  const size_t blank = text.find("\n\n");
  if (blank == std::string::npos) {
    ADD_FAILURE() << name << ".http: missing, or no empty line after the headers";
    return d;
  }
  for (const std::string& line : SplitLines(text.substr(0, blank))) {
    const size_t colon = line.find(':');
    d.headers[line.substr(0, colon)] = std::string(Trim(line.substr(colon + 1)));
  }
  d.body = text.substr(blank + 2);
  return d;
}

void Sign(Delivery& d, const std::string& secret) {
  const std::string mac = HmacSha256Hex(secret, d.body);
  switch (d.forge) {
    case Forge::kGithub:
      d.headers["x-hub-signature-256"] = "sha256=" + mac;
      break;
    case Forge::kGitea:
      d.headers["x-gitea-signature"] = mac;
      d.headers["x-hub-signature-256"] = "sha256=" + mac;
      break;
    case Forge::kGeneric:
      d.headers["x-anthill-signature"] = "sha256=" + mac;
      break;
    case Forge::kGitlab:
      d.headers["x-gitlab-token"] = secret;
      break;
  }
}

std::string Tamper(std::string body) {
  size_t i = body.find("\"after\"");
  if (i == std::string::npos) i = body.find("\"commit\"");
  i = body.find_first_of("0123456789abcdef", body.find(':', i) + 2);
  body[i] = body[i] == '1' ? '2' : '1';
  return body;
}

Edit Without(std::string header) {
  return [header](Delivery& d) { d.headers.erase(header); };
}
Edit WithHeader(std::string header, std::string value) {
  return [header, value](Delivery& d) { d.headers[header] = value; };
}
Edit SignedWith(std::string secret) {
  return [secret](Delivery& d) { Sign(d, secret); };
}
Edit Body(std::string body) {
  return [body](Delivery& d) {
    d.body = body;
    Sign(d, kSecret);
  };
}
Edit Cut(long bytes) {
  return [bytes](Delivery& d) {
    const long size = static_cast<long>(d.body.size());
    d.body.resize(static_cast<size_t>(bytes >= 0 ? bytes : size + bytes));
    Sign(d, kSecret);
  };
}
Edit Both(Edit a, Edit b) {
  return [a, b](Delivery& d) {
    a(d);
    b(d);
  };
}

}  // namespace anthill::watch
