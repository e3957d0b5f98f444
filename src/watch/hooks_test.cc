// Webhook receivers over deliveries as the forges send them. Each is checked
// in as src/watch/testdata/<forge>/<case>.http: the request's headers ("name:
// value", names lowercased as the HTTP layer hands them over), an empty line,
// then the body byte for byte, signed (GitLab: carrying the token) with
// kSecret. The hook fuzzers (fuzz/hook_fuzz.cc) take these files as seeds
// too, so a delivery added here is fuzzed. The tests are tables over
// forge x case: what a delivery parses to, which signatures verify, which
// bodies are refused and why.
#include "watch/hooks.h"

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <vector>

#include "base/strings.h"
#include "testing/testing.h"

namespace anthill::watch {
namespace {

constexpr char kSecret[] = "It's a Secret to Everybody";
constexpr char kZeros[] = "0000000000000000000000000000000000000000";

struct Delivery {
  Forge forge = Forge::kGeneric;
  Headers headers;
  std::string body;
};

using Edit = std::function<void(Delivery&)>;

// testdata/<name>.http, e.g. "github/push"; the folder names the forge.
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

// Signs the body again under `secret` the way its forge does (GitLab sends
// the token itself), as a sender holding that secret would.
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

// Changes one byte in the middle of the body (a digit of a commit id),
// keeping it valid JSON so only the signature can catch it.
std::string Tamper(std::string body) {
  size_t i = body.find("\"after\"");
  if (i == std::string::npos) i = body.find("\"commit\"");
  i = body.find_first_of("0123456789abcdef", body.find(':', i) + 2);
  body[i] = body[i] == '1' ? '2' : '1';
  return body;
}

// Edits of a checked-in delivery, for the cases the forges' payloads vary in.
Edit Without(std::string header) {
  return [header](Delivery& d) { d.headers.erase(header); };
}
Edit WithHeader(std::string header, std::string value) {
  return [header, value](Delivery& d) { d.headers[header] = value; };
}
Edit SignedWith(std::string secret) {
  return [secret](Delivery& d) { Sign(d, secret); };
}
// Another body, signed with kSecret: a well-signed delivery that says this.
Edit Body(std::string body) {
  return [body](Delivery& d) {
    d.body = body;
    Sign(d, kSecret);
  };
}
// The first `bytes` of the body (negative: all but the last -bytes), signed.
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

// ---------------------------------------------------------------------------
// What each delivery parses to.

const std::vector<std::string> kGithubUrls = {
    "https://github.com/Octo-Org/Hello-World.git", "git@github.com:Octo-Org/Hello-World.git",
    "git://github.com/Octo-Org/Hello-World.git", "https://github.com/Octo-Org/Hello-World"};
const std::vector<std::string> kGitlabUrls = {"http://example.com/mike/diaspora.git",
                                              "git@example.com:mike/diaspora.git",
                                              "http://example.com/mike/diaspora"};
const std::vector<std::string> kGiteaUrls = {"http://localhost:3000/gitea/webhooks.git",
                                             "ssh://gitea@localhost:2222/gitea/webhooks.git",
                                             "http://localhost:3000/gitea/webhooks"};
constexpr char kGithubDelivery[] = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
constexpr char kGitlabDelivery[] = "13792a34-cac6-4fda-95a8-c58e00a3954e";
constexpr char kGiteaDelivery[] = "f6266f16-1bf3-46a5-9ea4-602e06ead473";
constexpr char kGithubHead[] = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c";
constexpr char kGitlabHead[] = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7";
constexpr char kGitlabTag[] = "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7";
constexpr char kGiteaHead[] = "bffeb74224043ba2feb48d137756c8a9331c449a";

struct Parsed {
  const char* fixture;
  const char* what;
  Edit edit;  // none: as checked in
  const char* delivery_id;
  const char* event;
  bool is_push;
  const char* ref;
  const char* commit;
  bool deleted;
  const char* repository;
  const char* pusher;
  std::vector<std::string> repo_urls;
  std::vector<std::string> same_repo;   // project repos RepoMatches() takes for it
  std::vector<std::string> other_repo;  // and ones it does not
};

TEST(Deliveries, EachForgesPushesTagsDeletionsAndOtherEventsParse) {
  const std::string user_username = "\"user_username\": \"jsmith\",\n  ";
  const std::string a40(40, 'a');
  // One row a delivery, its fields in Parsed's order.
  // clang-format off
  const Parsed cases[] = {
      {"github/push", "branch push", {}, kGithubDelivery, "push", true, "refs/heads/main",
       kGithubHead /* the payload's upper case, lowered */, false, "Octo-Org/Hello-World",
       "Codertocat", kGithubUrls,
       {"git@github.com:octo-org/hello-world.git", "https://github.com/Octo-Org/Hello-World"},
       {"https://github.com/Octo-Org/Hello-World-2"}},
      {"github/tag_push", "tag push", {}, kGithubDelivery, "push", true, "refs/tags/v1.2.0",
       "9f1b2c3d4e5f60718293a4b5c6d7e8f901234567", false, "Octo-Org/Hello-World", "Codertocat",
       kGithubUrls},
      {"github/delete", "deleted branch", {}, kGithubDelivery, "push", true,
       "refs/heads/feature/old", kZeros, true, "Octo-Org/Hello-World", "Codertocat", kGithubUrls},
      {"github/ping", "ping: not a push; the sender is the pusher", {}, kGithubDelivery, "ping",
       false, "", "", false, "Octo-Org/Hello-World", "Codertocat", kGithubUrls,
       {"github.com/octo-org/hello-world"}},
      {"github/push_form", "form-encoded: '+' is a space, %2B a plus", {}, kGithubDelivery, "push",
       true, "refs/heads/main", kGithubHead, false, "Octo-Org/Hello-World", "Mona Lisa+",
       kGithubUrls},

      {"gitlab/push_hook", "branch push", {}, kGitlabDelivery, "Push Hook", true,
       "refs/heads/master", kGitlabHead, false, "mike/diaspora", "jsmith", kGitlabUrls,
       {"https://example.com/mike/diaspora.git", "ssh://git@example.com/mike/diaspora"},
       {"https://example.com/mike/diaspora-fork.git"}},
      {"gitlab/push_hook", "no event uuid: the webhook uuid is the delivery id",
       Without("x-gitlab-event-uuid"), "a7a7e3f0-9d7b-4e5b-8c1d-0f1e2d3c4b5a", "Push Hook", true,
       "refs/heads/master", kGitlabHead, false, "mike/diaspora", "jsmith", kGitlabUrls},
      {"gitlab/tag_push_hook", "tag push", {}, kGitlabDelivery, "Tag Push Hook", true,
       "refs/tags/v1.0.0", kGitlabTag, false, "mike/diaspora", "jsmith", kGitlabUrls},
      {"gitlab/delete", "deleted branch", {}, kGitlabDelivery, "Push Hook", true,
       "refs/heads/feature/old", kZeros, true, "mike/diaspora", "jsmith", kGitlabUrls},
      {"gitlab/issue_hook", "issue: not a push", {}, kGitlabDelivery, "Issue Hook", false, "", "",
       false, "mike/diaspora", "root",
       {"http://example.com/mike/diaspora.git", "git@example.com:mike/diaspora.git",
        "http://example.com/mike/diaspora", "http://example.com/gitlabhq/gitlab-test.git",
        "http://example.com/gitlabhq/gitlab-test"}},
      {"gitlab/system_hook_push_object_kind", "system hook carrying a push hook's body", {},
       kGitlabDelivery, "System Hook", true, "refs/heads/master", kGitlabHead, false,
       "mike/diaspora", "jsmith", kGitlabUrls},
      // Issue 12: the System Hook push and tag events in the shape GitLab's
      // doc/administration/system_hooks.md shows (no object_kind, the kind in
      // event_name, no user_username) were answered "not a push".
      {"gitlab/system_hook_push", "issue 12: old system hook push", {}, kGitlabDelivery,
       "System Hook", true, "refs/heads/master", kGitlabHead, false, "mike/diaspora",
       "John Smith" /* no user_username in this shape */, kGitlabUrls,
       {"https://example.com/mike/diaspora.git"}},
      {"gitlab/system_hook_push",
       "issue 12: with user_username (newer GitLab) and no X-Gitlab-Event: event_name names it",
       Both(Without("x-gitlab-event"),
            [&](Delivery& d) { d.body.insert(d.body.find("\"user_name\""), user_username); }),
       kGitlabDelivery, "push", true, "refs/heads/master", kGitlabHead, false, "mike/diaspora",
       "jsmith", kGitlabUrls},
      {"gitlab/system_hook_tag_push", "issue 12: old system hook tag push", {}, kGitlabDelivery,
       "System Hook", true, "refs/tags/v1.0.0", kGitlabTag, false, "jsmith/example", "John Smith",
       {"http://example.com/jsmith/example.git", "git@example.com:jsmith/example.git",
        "http://example.com/jsmith/example", "ssh://git@example.com/jsmith/example.git"},
       {"ssh://git@example.com/jsmith/example"}},
      {"gitlab/system_hook_push", "old system hook push without 'after': checkout_sha stands in",
       Body(R"({"event_name": "push", "ref": "refs/heads/main", "checkout_sha": ")" + a40 +
            R"("})"),
       kGitlabDelivery, "System Hook", true, "refs/heads/main", a40.c_str(), false, "", "", {}},
      {"gitlab/system_hook_push", "system hook repository_update: not a push",
       Body(R"({"event_name": "repository_update", "user_name": "John"})"), kGitlabDelivery,
       "System Hook", false, "", "", false, "", "John", {}},
      {"gitlab/system_hook_push", "system hook project_create: not a push",
       Body(R"({"event_name": "project_create", "user_name": "John"})"), kGitlabDelivery,
       "System Hook", false, "", "", false, "", "John", {}},
      {"gitlab/system_hook_push", "system hook user_add_to_group: not a push",
       Body(R"({"event_name": "user_add_to_group", "user_name": "John"})"), kGitlabDelivery,
       "System Hook", false, "", "", false, "", "John", {}},

      {"gitea/push", "branch push", {}, kGiteaDelivery, "push", true, "refs/heads/develop",
       kGiteaHead, false, "gitea/webhooks", "gitea", kGiteaUrls,
       {"http://localhost:3000/gitea/webhooks", "localhost/gitea/webhooks.git"},
       {"http://localhost:3000/gitea/other"}},
      {"gitea/tag_push", "tag push", {}, kGiteaDelivery, "push", true, "refs/tags/v2.0.0",
       kGiteaHead, false, "gitea/webhooks", "gitea", kGiteaUrls},
      {"gitea/delete", "deleted branch", {}, kGiteaDelivery, "push", true,
       "refs/heads/feature/old", kZeros, true, "gitea/webhooks", "gitea", kGiteaUrls},
      {"gitea/create", "create: not a push", {}, kGiteaDelivery, "create", false, "v1.0", "",
       false, "gitea/webhooks", "gitea", kGiteaUrls},

      {"generic/push", "branch push", {}, "build-4711", "push", true, "refs/heads/main",
       "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678", false, "https://git.example.com/team/hello.git",
       "alice", {"https://git.example.com/team/hello.git"}, {"git@git.example.com:team/hello"}},
      {"generic/push", "deleted branch",
       Body(R"({"repository": "/srv/git/hello.git", "ref": "refs/heads/x", "commit": ")" +
            std::string(kZeros) + R"("})"),
       "build-4711", "push", true, "refs/heads/x", kZeros, true, "/srv/git/hello.git", "",
       {"/srv/git/hello.git"}},
  };
  // clang-format on
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.fixture) + ": " + c.what);
    Delivery d = Load(c.fixture);
    Status signature = VerifySignature(d.forge, d.headers, d.body, kSecret);
    EXPECT_TRUE(signature.ok()) << "as checked in: " << signature.message();
    if (c.edit) c.edit(d);
    auto ev = ParsePush(d.forge, d.headers, d.body);
    ASSERT_TRUE(ev.ok()) << ev.error();
    EXPECT_EQ(ev->delivery_id, c.delivery_id);
    EXPECT_EQ(ev->event, c.event);
    EXPECT_EQ(ev->is_push, c.is_push);
    EXPECT_EQ(ev->ref, c.ref);
    EXPECT_EQ(ev->commit, c.commit);
    EXPECT_EQ(ev->deleted, c.deleted);
    EXPECT_EQ(ev->repository, c.repository);
    EXPECT_EQ(ev->pusher, c.pusher);
    EXPECT_EQ(ev->repo_urls, c.repo_urls);
    for (const auto& repo : c.same_repo) EXPECT_TRUE(RepoMatches(ev->repo_urls, repo)) << repo;
    for (const auto& repo : c.other_repo) EXPECT_FALSE(RepoMatches(ev->repo_urls, repo)) << repo;
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

// ---------------------------------------------------------------------------
// Which signatures verify: forge x (as sent, another secret, no header,
// tampered body, no secret configured, ...).

struct Signature {
  const char* fixture;
  const char* what;
  Edit edit;
  std::string secret;  // the project's webhook_secret it is checked against
  const char* error;   // "": verifies
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
  const Signature cases[] = {
      {"github/push", "as sent", {}, kSecret, ""},
      {"github/push", "upper-case hex", upper_hex, kSecret, ""},
      {"github/push", "another secret", SignedWith("another secret"), kSecret,
       "signature does not match"},
      {"github/push", "no header", Without("x-hub-signature-256"), kSecret,
       "missing X-Hub-Signature-256 header"},
      {"github/push", "no sha256= label", no_prefix, kSecret,
       "X-Hub-Signature-256 is not sha256=<hex>"},
      {"github/push", "sha1= label", sha1_prefix, kSecret,
       "X-Hub-Signature-256 is not sha256=<hex>"},
      {"github/push", "label alone", WithHeader("x-hub-signature-256", "sha256="), kSecret,
       "signature does not match"},
      {"github/push", "tampered body", tamper, kSecret, "signature does not match"},
      {"github/push", "no secret configured", SignedWith(""), "", "no webhook secret configured"},

      {"gitlab/push_hook", "as sent", {}, kSecret, ""},
      {"gitlab/push_hook", "another token of the same length",
       WithHeader("x-gitlab-token", "It's a Secret to Everybodx"), kSecret,
       "X-Gitlab-Token does not match"},
      {"gitlab/push_hook", "the token's beginning", WithHeader("x-gitlab-token", "It's a Secret"),
       kSecret, "X-Gitlab-Token does not match"},
      {"gitlab/push_hook", "an empty token", WithHeader("x-gitlab-token", ""), kSecret,
       "X-Gitlab-Token does not match"},
      {"gitlab/push_hook", "no header", Without("x-gitlab-token"), kSecret,
       "missing X-Gitlab-Token header"},
      // GitLab signs nothing: its token is a password, the body is not covered.
      {"gitlab/push_hook", "tampered body", tamper, kSecret, ""},
      {"gitlab/push_hook", "no secret configured", SignedWith(""), "",
       "no webhook secret configured"},

      {"gitea/push", "as sent", {}, kSecret, ""},
      {"gitea/push", "another secret", SignedWith("wrong"), kSecret, "signature does not match"},
      {"gitea/push", "no header", Without("x-gitea-signature"), kSecret,
       "missing X-Gitea-Signature header"},
      {"gitea/push", "tampered body", tamper, kSecret, "signature does not match"},
      {"gitea/push", "no secret configured", SignedWith(""), "", "no webhook secret configured"},

      {"generic/push", "as sent", {}, kSecret, ""},
      {"generic/push", "another secret", SignedWith("nope"), kSecret, "signature does not match"},
      {"generic/push", "no header", Without("x-anthill-signature"), kSecret,
       "missing X-Anthill-Signature header"},
      {"generic/push", "tampered body", tamper, kSecret, "signature does not match"},
      {"generic/push", "no secret configured", SignedWith(""), "", "no webhook secret configured"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.fixture) + ": " + c.what);
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

// ---------------------------------------------------------------------------
// Well-signed deliveries whose body or headers are refused (a 400), and why.

struct Refused {
  const char* fixture;  // the forge and its headers
  Edit edit;
  const char* error;
  bool prefix = false;  // error is the start of the message (a JSON parser's words follow)
};

TEST(Deliveries, MalformedOnesAreRefusedWithTheReason) {
  const char* kNotJson = "body is not JSON: ";
  const std::string after = R"("after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")";
  const Edit form = WithHeader("content-type", "application/x-www-form-urlencoded; charset=utf-8");
  const Refused cases[] = {
      {"github/push", Without("x-github-event"), "missing X-GitHub-Event header"},
      {"github/push", Cut(900), kNotJson, true},
      {"github/push", Body("[1, 2, 3]"), "body is not a JSON object"},
      {"github/push", Body("\"push\""), "body is not a JSON object"},
      {"github/push", Body(""), kNotJson, true},
      {"github/push", Body(R"({"ref": "refs/heads/main"})"), "push event without 'after'"},
      {"github/push", Body("{" + after + "}"), "push event without 'ref'"},
      {"github/push", Body(R"({"ref": 7, )" + after + "}"), "push event without 'ref'"},
      {"github/push", Body(R"({"ref": "main", )" + after + "}"),
       "push event ref 'main' is not refs/..."},
      {"github/push", Body(R"({"ref": "refs/", )" + after + "}"),
       "push event ref 'refs/' is not refs/..."},
      {"github/push", Body(R"({"ref": "refs/heads/x", "after": "0d1a26e6"})"),
       "push event 'after' is not a 40-hex commit id"},
      {"github/push",
       Body(R"({"ref": "refs/heads/x", "after": "zd1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})"),
       "push event 'after' is not a 40-hex commit id"},
      {"github/push", Body(R"({"ref": "refs/heads/x", "after": 12})"),
       "push event without 'after'"},
      {"github/push", Both(form, Body("payload=%7B%2")),
       "form body: bad percent-encoding in 'payload'"},
      {"github/push", Both(form, Body("other=1&more=2")), "form body without 'payload' field"},
      {"github/push", Both(form, Body("x=1&payload=hello")), kNotJson, true},

      {"gitlab/push_hook", Cut(-3), kNotJson, true},
      {"gitlab/push_hook", Body(R"({"object_kind": "push", "ref": "refs/heads/main"})"),
       "push event without 'after'"},
      // Accepted as a push, so held to a push's rules.
      {"gitlab/system_hook_push", Body(R"({"event_name": "push", "ref": "refs/heads/main"})"),
       "push event without 'after'"},

      {"gitea/push", Cut(300), kNotJson, true},

      {"generic/push", Body(R"({"repository": "https://x/y", "ref": "refs/heads/main"})"),
       "push event without 'commit'"},
      {"generic/push",
       Body(R"({"ref": "refs/heads/main", "commit": "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678"})"),
       "push event without 'repository'"},
      {"generic/push", Body("ref=main"), kNotJson, true},
  };
  for (const auto& c : cases) {
    Delivery d = Load(c.fixture);
    c.edit(d);
    SCOPED_TRACE(std::string(c.fixture) + " with body: " + d.body.substr(0, 80));
    ASSERT_TRUE(VerifySignature(d.forge, d.headers, d.body, kSecret).ok()) << "well signed";
    auto ev = ParsePush(d.forge, d.headers, d.body);
    ASSERT_FALSE(ev.ok());
    EXPECT_EQ(ev.code(), StatusCode::kInvalidArgument);
    if (c.prefix) {
      EXPECT_TRUE(StartsWith(ev.error(), c.error)) << ev.error();
    } else {
      EXPECT_EQ(ev.error(), c.error);
    }
  }
}

// Issue 12: a verified delivery whose body does not parse is stored too, with
// what its headers say; the parsers read the same headers.
TEST(Deliveries, TheHeadersAloneGiveTheDeliveryIdAndEvent) {
  const std::string cut = Load("github/push").body.substr(0, 40);
  const struct {
    const char* fixture;  // nullptr: GitHub, no headers at all
    const char* event;
    const char* delivery_id;
  } cases[] = {
      {"github/push", "push", kGithubDelivery},
      {"gitlab/system_hook_push", "System Hook", kGitlabDelivery},
      {"gitea/push", "push", kGiteaDelivery},
      {"generic/push", "push", "build-4711"},
      {nullptr, "", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fixture ? c.fixture : "github, no headers");
    Delivery d = c.fixture ? Load(c.fixture) : Delivery{Forge::kGithub, {}, ""};
    PushEvent ev = DescribeDelivery(d.forge, d.headers);
    EXPECT_EQ(ev.event, c.event);
    EXPECT_EQ(ev.delivery_id, c.delivery_id);
    EXPECT_FALSE(ev.is_push);
    EXPECT_TRUE(ev.ref.empty() && ev.commit.empty() && ev.repo_urls.empty());
    EXPECT_FALSE(ParsePush(d.forge, d.headers, cut).ok()) << "the body is cut short";
  }
}

// ---------------------------------------------------------------------------
// HMAC, forge names, repository URLs.

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

TEST(Forge, NamesRoundTrip) {
  for (Forge f : {Forge::kGithub, Forge::kGitlab, Forge::kGitea, Forge::kGeneric}) {
    Forge parsed = Forge::kGeneric;
    ASSERT_TRUE(ParseForge(ToString(f), &parsed)) << ToString(f);
    EXPECT_EQ(parsed, f);
  }
  Forge untouched = Forge::kGitea;
  EXPECT_FALSE(ParseForge("bitbucket", &untouched));
  EXPECT_FALSE(ParseForge("", &untouched));
  EXPECT_EQ(untouched, Forge::kGitea);
}

TEST(NormalizeRepoUrl, TheFormsOneRepositoryGoesBy) {
  const std::pair<const char*, const char*> cases[] = {
      // The header's examples.
      {"https://GitHub.com/Org/Repo.git/", "github.com/org/repo"},
      {"git@github.com:org/repo.git", "github.com/org/repo"},
      {"ssh://git@github.com:22/org/repo", "github.com/org/repo"},
      {"/srv/git/hello.git", "/srv/git/hello"},
      {"file:///srv/git/hello.git", "/srv/git/hello"},
      // More forms.
      {"http://github.com/org/repo", "github.com/org/repo"},
      {"git://github.com/org/repo.git", "github.com/org/repo"},
      {"https://user:pa55@github.com:443/org/repo.git", "github.com/org/repo"},
      {"https://oauth2@gitlab.example.com/group/sub/proj", "gitlab.example.com/group/sub/proj"},
      {"ssh://gitea@localhost:2222/gitea/webhooks.git", "localhost/gitea/webhooks"},
      {"  https://github.com/org/repo//  ", "github.com/org/repo"},
      {"github.com/org/repo.git", "github.com/org/repo"},
      {"git@github.com:/org/repo.git", "github.com/org/repo"},
      {"file://localhost/srv/git/hello.git/", "/srv/git/hello"},
      {"/srv/git/hello/", "/srv/git/hello"},
      {"https://github.com/org/repo.github.io", "github.com/org/repo.github.io"},
      {"", ""},
  };
  for (const auto& [url, normal] : cases) EXPECT_EQ(NormalizeRepoUrl(url), normal) << url;
}

TEST(RepoMatches, AnyFormMatchesAndOthersDoNot) {
  std::vector<std::string> urls = {"", "https://github.com/Org/Repo.git",
                                   "git@github.com:Org/Repo.git"};
  EXPECT_TRUE(RepoMatches(urls, "ssh://git@github.com:22/org/repo"));
  EXPECT_TRUE(RepoMatches(urls, "https://github.com/org/repo/"));
  EXPECT_FALSE(RepoMatches(urls, "https://github.com/org/repo2"));
  EXPECT_FALSE(RepoMatches(urls, "https://gitlab.com/org/repo"));
  EXPECT_FALSE(RepoMatches(urls, "https://github.com/other/repo"));
  EXPECT_FALSE(RepoMatches(urls, ""));
  EXPECT_FALSE(RepoMatches({}, "https://github.com/org/repo"));
  EXPECT_FALSE(RepoMatches({"", ""}, ""));
}

}  // namespace
}  // namespace anthill::watch
