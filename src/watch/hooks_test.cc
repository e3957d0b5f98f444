#include "watch/hooks.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace anthill::watch {
namespace {

constexpr char kSecret[] = "It's a Secret to Everybody";
constexpr char kZeros[] = "0000000000000000000000000000000000000000";

bool HasPrefix(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Changes one byte in the middle of the body (a digit of a commit id or a
// letter), keeping it valid JSON so only the signature can catch it.
std::string Tamper(std::string body) {
  size_t i = body.find("\"after\"");
  if (i == std::string::npos) i = body.find("\"commit\"");
  i = body.find_first_of("0123456789abcdef", body.find(':', i) + 2);
  body[i] = body[i] == '1' ? '2' : '1';
  return body;
}

// x-www-form-urlencoded as GitHub writes it: unreserved bytes as they are,
// space as '+', everything else %XX.
std::string FormEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Payloads, shaped like the forges' documented examples.

const std::string kGithubRepository = R"({
    "id": 186853002,
    "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
    "name": "Hello-World",
    "full_name": "Octo-Org/Hello-World",
    "private": false,
    "owner": {
      "name": "Octo-Org", "email": null, "login": "Octo-Org", "id": 6811672,
      "node_id": "MDEyOk9yZ2FuaXphdGlvbjY4MTE2NzI=",
      "avatar_url": "https://avatars.githubusercontent.com/u/6811672?v=4",
      "html_url": "https://github.com/Octo-Org", "type": "Organization", "site_admin": false
    },
    "html_url": "https://github.com/Octo-Org/Hello-World",
    "description": "My first repository on GitHub!",
    "fork": false,
    "url": "https://github.com/Octo-Org/Hello-World",
    "created_at": 1557933565,
    "updated_at": "2024-05-15T15:20:41Z",
    "pushed_at": 1715786487,
    "git_url": "git://github.com/Octo-Org/Hello-World.git",
    "ssh_url": "git@github.com:Octo-Org/Hello-World.git",
    "clone_url": "https://github.com/Octo-Org/Hello-World.git",
    "svn_url": "https://github.com/Octo-Org/Hello-World",
    "homepage": null,
    "size": 0,
    "stargazers_count": 0,
    "language": null,
    "has_issues": true,
    "archived": false,
    "open_issues_count": 0,
    "license": null,
    "topics": [],
    "visibility": "public",
    "default_branch": "main",
    "stargazers": 0,
    "master_branch": "main",
    "organization": "Octo-Org"
  })";

const std::string kGithubSender = R"({
    "login": "Codertocat", "id": 21031067, "node_id": "MDQ6VXNlcjIxMDMxMDY3",
    "avatar_url": "https://avatars1.githubusercontent.com/u/21031067?v=4",
    "html_url": "https://github.com/Codertocat", "type": "User", "site_admin": false
  })";

std::string GithubPush(const std::string& pusher_name = "Codertocat") {
  return R"({
  "ref": "refs/heads/main",
  "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
  "after": "0D1A26E67D8F5EAF1F6BA5C57FC3C7D91AC0FD1C",
  "repository": )" +
         kGithubRepository + R"(,
  "pusher": {"name": ")" +
         pusher_name + R"(", "email": "21031067+Codertocat@users.noreply.github.com"},
  "organization": {"login": "Octo-Org", "id": 6811672,
                   "url": "https://api.github.com/orgs/Octo-Org"},
  "sender": )" +
         kGithubSender +
         R"(,
  "created": false,
  "deleted": false,
  "forced": false,
  "base_ref": null,
  "compare": "https://github.com/Octo-Org/Hello-World/compare/6113728f27ae...0d1a26e67d8f",
  "commits": [
    {
      "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
      "distinct": true,
      "message": "Update README.md\n\nSee #12 & \"quotes\": 100% + more",
      "timestamp": "2024-05-15T15:20:30-07:00",
      "url": "https://github.com/Octo-Org/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
      "author": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com",
                 "username": "Codertocat"},
      "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
      "added": [], "removed": [], "modified": ["README.md"]
    }
  ],
  "head_commit": {
    "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    "tree_id": "f9d2a07e9488b91af2641b26b9407fe22a451433",
    "distinct": true,
    "message": "Update README.md",
    "timestamp": "2024-05-15T15:20:30-07:00",
    "url": "https://github.com/Octo-Org/Hello-World/commit/0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    "author": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com",
               "username": "Codertocat"},
    "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
    "added": [], "removed": [], "modified": ["README.md"]
  }
})";
}

std::string GithubTagPush() {
  return R"({
  "ref": "refs/tags/v1.2.0",
  "before": "0000000000000000000000000000000000000000",
  "after": "9f1b2c3d4e5f60718293a4b5c6d7e8f901234567",
  "repository": )" +
         kGithubRepository + R"(,
  "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
  "sender": )" +
         kGithubSender +
         R"(,
  "created": true,
  "deleted": false,
  "forced": false,
  "base_ref": "refs/heads/main",
  "compare": "https://github.com/Octo-Org/Hello-World/compare/v1.2.0",
  "commits": [],
  "head_commit": {
    "id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    "message": "Update README.md",
    "timestamp": "2024-05-15T15:20:30-07:00",
    "author": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
    "committer": {"name": "GitHub", "email": "noreply@github.com"}
  }
})";
}

std::string GithubDelete() {
  return R"({
  "ref": "refs/heads/feature/old",
  "before": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
  "after": "0000000000000000000000000000000000000000",
  "repository": )" +
         kGithubRepository + R"(,
  "pusher": {"name": "Codertocat", "email": "21031067+Codertocat@users.noreply.github.com"},
  "sender": )" +
         kGithubSender +
         R"(,
  "created": false,
  "deleted": true,
  "forced": false,
  "base_ref": null,
  "compare": "https://github.com/Octo-Org/Hello-World/compare/0d1a26e67d8f...000000000000",
  "commits": [],
  "head_commit": null
})";
}

std::string GithubPing() {
  return R"({
  "zen": "Keep it logically awesome.",
  "hook_id": 109948940,
  "hook": {
    "type": "Repository",
    "id": 109948940,
    "name": "web",
    "active": true,
    "events": ["push"],
    "config": {"content_type": "json", "insecure_ssl": "0",
               "url": "https://deploy.example.com/hooks/github"},
    "updated_at": "2024-05-15T15:20:41Z",
    "created_at": "2024-05-15T15:20:41Z",
    "url": "https://api.github.com/repos/Octo-Org/Hello-World/hooks/109948940",
    "test_url": "https://api.github.com/repos/Octo-Org/Hello-World/hooks/109948940/test",
    "ping_url": "https://api.github.com/repos/Octo-Org/Hello-World/hooks/109948940/pings",
    "last_response": {"code": null, "status": "unused", "message": null}
  },
  "repository": )" +
         kGithubRepository + R"(,
  "sender": )" +
         kGithubSender +
         R"(
})";
}

const std::string kGitlabProject = R"({
    "id": 15,
    "name": "Diaspora",
    "description": "",
    "web_url": "http://example.com/mike/diaspora",
    "avatar_url": null,
    "git_ssh_url": "git@example.com:mike/diaspora.git",
    "git_http_url": "http://example.com/mike/diaspora.git",
    "namespace": "Mike",
    "visibility_level": 0,
    "path_with_namespace": "mike/diaspora",
    "default_branch": "master",
    "ci_config_path": null,
    "homepage": "http://example.com/mike/diaspora",
    "url": "git@example.com:mike/diaspora.git",
    "ssh_url": "git@example.com:mike/diaspora.git",
    "http_url": "http://example.com/mike/diaspora.git"
  })";

const std::string kGitlabRepository = R"({
    "name": "Diaspora",
    "url": "git@example.com:mike/diaspora.git",
    "description": "",
    "homepage": "http://example.com/mike/diaspora",
    "git_http_url": "http://example.com/mike/diaspora.git",
    "git_ssh_url": "git@example.com:mike/diaspora.git",
    "visibility_level": 0
  })";

std::string GitlabPush() {
  return R"({
  "object_kind": "push",
  "event_name": "push",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "ref": "refs/heads/master",
  "ref_protected": true,
  "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "message": "Hello World",
  "user_id": 4,
  "user_name": "John Smith",
  "user_username": "jsmith",
  "user_email": "john@example.com",
  "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
  "project_id": 15,
  "project": )" +
         kGitlabProject + R"(,
  "commits": [
    {
      "id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
      "message": "Update Catalan translation to e38cb41.\n\nSee https://gitlab.com for more",
      "title": "Update Catalan translation to e38cb41.",
      "timestamp": "2011-12-12T14:27:31+02:00",
      "url": "http://example.com/mike/diaspora/commit/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
      "author": {"name": "Jordi Mallach", "email": "jordi@softcatala.org"},
      "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": []
    },
    {
      "id": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "message": "fixed readme",
      "title": "fixed readme",
      "timestamp": "2012-01-03T23:36:29+02:00",
      "url": "http://example.com/mike/diaspora/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "author": {"name": "GitLab dev user", "email": "gitlabdev@dv6700.example"},
      "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": []
    }
  ],
  "total_commits_count": 4,
  "push_options": {},
  "repository": )" +
         kGitlabRepository + R"(
})";
}

std::string GitlabTagPush() {
  return R"({
  "object_kind": "tag_push",
  "event_name": "tag_push",
  "before": "0000000000000000000000000000000000000000",
  "after": "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
  "ref": "refs/tags/v1.0.0",
  "ref_protected": true,
  "checkout_sha": "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
  "message": "Tag message",
  "user_id": 1,
  "user_name": "John Smith",
  "user_username": "jsmith",
  "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
  "project_id": 1,
  "project": )" +
         kGitlabProject + R"(,
  "commits": [],
  "total_commits_count": 0,
  "push_options": {},
  "repository": )" +
         kGitlabRepository + R"(
})";
}

std::string GitlabDelete() {
  return R"({
  "object_kind": "push",
  "event_name": "push",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "0000000000000000000000000000000000000000",
  "ref": "refs/heads/feature/old",
  "ref_protected": false,
  "checkout_sha": null,
  "message": null,
  "user_id": 4,
  "user_name": "John Smith",
  "user_username": "jsmith",
  "user_email": "",
  "project_id": 15,
  "project": )" +
         kGitlabProject + R"(,
  "commits": [],
  "total_commits_count": 0,
  "push_options": {},
  "repository": )" +
         kGitlabRepository + R"(
})";
}

std::string GitlabIssue() {
  return R"({
  "object_kind": "issue",
  "event_type": "issue",
  "user": {"id": 1, "name": "Administrator", "username": "root",
           "avatar_url": "http://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=40&d=identicon",
           "email": "admin@example.com"},
  "project": )" +
         kGitlabProject + R"(,
  "object_attributes": {
    "id": 301, "iid": 23, "title": "New API: create/update/delete file",
    "description": "Create new API for manipulations with repository",
    "state": "opened", "action": "open",
    "url": "http://example.com/diaspora/issues/23"
  },
  "labels": [],
  "changes": {},
  "repository": {"name": "Gitlab Test", "url": "http://example.com/gitlabhq/gitlab-test.git",
                 "description": "Aut reprehenderit ut est.",
                 "homepage": "http://example.com/gitlabhq/gitlab-test"}
})";
}

const std::string kGiteaRepository = R"({
    "id": 140,
    "owner": {
      "id": 1, "login": "gitea", "login_name": "", "full_name": "Gitea",
      "email": "someone@gitea.io", "avatar_url": "https://localhost:3000/avatars/1",
      "language": "", "is_admin": false, "username": "gitea"
    },
    "name": "webhooks",
    "full_name": "gitea/webhooks",
    "description": "",
    "empty": false,
    "private": false,
    "fork": false,
    "template": false,
    "parent": null,
    "mirror": false,
    "size": 12,
    "html_url": "http://localhost:3000/gitea/webhooks",
    "ssh_url": "ssh://gitea@localhost:2222/gitea/webhooks.git",
    "clone_url": "http://localhost:3000/gitea/webhooks.git",
    "original_url": "",
    "website": "",
    "stars_count": 0,
    "forks_count": 1,
    "watchers_count": 1,
    "open_issues_count": 7,
    "default_branch": "master",
    "archived": false,
    "created_at": "2017-02-26T04:29:06-05:00",
    "updated_at": "2017-03-13T13:51:58-04:00"
  })";

const std::string kGiteaUser = R"({
    "id": 1, "login": "gitea", "login_name": "", "full_name": "Gitea",
    "email": "someone@gitea.io", "avatar_url": "https://localhost:3000/avatars/1",
    "username": "gitea"
  })";

std::string GiteaPush(const std::string& ref = "refs/heads/develop",
                      const std::string& before = "28e1879d029cb852e4844d9c718537df08844e03",
                      const std::string& after = "bffeb74224043ba2feb48d137756c8a9331c449a") {
  return R"({
  "ref": ")" +
         ref + R"(",
  "before": ")" +
         before +
         R"(",
  "after": ")" +
         after +
         R"(",
  "compare_url": "http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
  "commits": [
    {
      "id": "bffeb74224043ba2feb48d137756c8a9331c449a",
      "message": "Webhooks Yay!",
      "url": "http://localhost:3000/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
      "author": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
      "committer": {"name": "Gitea", "email": "someone@gitea.io", "username": "gitea"},
      "verification": null,
      "timestamp": "2017-03-13T13:52:11-04:00",
      "added": [], "removed": [], "modified": ["README.md"]
    }
  ],
  "total_commits": 1,
  "head_commit": null,
  "repository": )" +
         kGiteaRepository + R"(,
  "pusher": )" +
         kGiteaUser +
         R"(,
  "sender": )" +
         kGiteaUser +
         R"(
})";
}

std::string GiteaCreate() {
  return R"({
  "sha": "bffeb74224043ba2feb48d137756c8a9331c449a",
  "ref": "v1.0",
  "ref_type": "tag",
  "repository": )" +
         kGiteaRepository + R"(,
  "sender": )" +
         kGiteaUser +
         R"(
})";
}

const char kGenericPush[] = R"({
  "repository": "https://git.example.com/team/hello.git",
  "ref": "refs/heads/main",
  "commit": "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678",
  "pusher": "alice"
})";

Headers GithubHeaders(const std::string& body, const std::string& secret,
                      const std::string& event = "push") {
  return {
      {"accept", "*/*"},
      {"content-type", "application/json"},
      {"user-agent", "GitHub-Hookshot/044aadd"},
      {"x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
      {"x-github-event", event},
      {"x-github-hook-id", "292430182"},
      {"x-github-hook-installation-target-id", "79929171"},
      {"x-github-hook-installation-target-type", "repository"},
      {"x-hub-signature", "sha1=not-checked"},
      {"x-hub-signature-256", "sha256=" + HmacSha256Hex(secret, body)},
  };
}

Headers GitlabHeaders(const std::string& token, const std::string& event = "Push Hook") {
  return {
      {"content-type", "application/json"},
      {"user-agent", "GitLab/16.11.6-ee"},
      {"x-gitlab-event", event},
      {"x-gitlab-event-uuid", "13792a34-cac6-4fda-95a8-c58e00a3954e"},
      {"x-gitlab-instance", "https://gitlab.example.com"},
      {"x-gitlab-token", token},
      {"x-gitlab-webhook-uuid", "a7a7e3f0-9d7b-4e5b-8c1d-0f1e2d3c4b5a"},
  };
}

Headers GiteaHeaders(const std::string& body, const std::string& secret,
                     const std::string& event = "push") {
  return {
      {"content-type", "application/json"},
      {"x-github-delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"},
      {"x-github-event", event},
      {"x-gogs-delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"},
      {"x-gogs-event", event},
      {"x-gitea-delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"},
      {"x-gitea-event", event},
      {"x-gitea-signature", HmacSha256Hex(secret, body)},
      {"x-hub-signature-256", "sha256=" + HmacSha256Hex(secret, body)},
  };
}

Headers GenericHeaders(const std::string& body, const std::string& secret) {
  return {
      {"content-type", "application/json"},
      {"x-anthill-delivery", "build-4711"},
      {"x-anthill-signature", "sha256=" + HmacSha256Hex(secret, body)},
  };
}

// ---------------------------------------------------------------------------
// HMAC and forge names.

TEST(HmacTest, Rfc4231KnownAnswers) {
  // Test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: 20 bytes of 0x0b.
  EXPECT_EQ(HmacSha256Hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(HmacTest, EmptyBodyAndGithubDocsExample) {
  // GitHub's "validating webhook deliveries" example.
  EXPECT_EQ(HmacSha256Hex(kSecret, "Hello, World!"),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
  EXPECT_EQ(HmacSha256Hex("key", "").size(), 64u);
}

TEST(ForgeTest, NamesRoundTrip) {
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

// ---------------------------------------------------------------------------
// GitHub.

TEST(GithubTest, ValidSignatureVerifies) {
  std::string body = GithubPush();
  EXPECT_TRUE(VerifySignature(Forge::kGithub, GithubHeaders(body, kSecret), body, kSecret).ok());
}

TEST(GithubTest, UppercaseHexSignatureVerifies) {
  std::string body = GithubPush();
  Headers h = GithubHeaders(body, kSecret);
  for (char& c : h["x-hub-signature-256"]) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
}

TEST(GithubTest, WrongSecretFails) {
  std::string body = GithubPush();
  Status s = VerifySignature(Forge::kGithub, GithubHeaders(body, "another secret"), body, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "signature does not match");
  EXPECT_EQ(s.message().find(kSecret), std::string::npos);
}

TEST(GithubTest, MissingHeaderFails) {
  std::string body = GithubPush();
  Headers h = GithubHeaders(body, kSecret);
  h.erase("x-hub-signature-256");
  Status s = VerifySignature(Forge::kGithub, h, body, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "missing X-Hub-Signature-256 header");
}

TEST(GithubTest, WrongAlgorithmPrefixFails) {
  std::string body = GithubPush();
  Headers h = GithubHeaders(body, kSecret);
  h["x-hub-signature-256"] = HmacSha256Hex(kSecret, body);  // no "sha256="
  EXPECT_FALSE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
  h["x-hub-signature-256"] = "sha1=" + HmacSha256Hex(kSecret, body);
  EXPECT_FALSE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
  h["x-hub-signature-256"] = "sha256=";
  EXPECT_FALSE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
}

TEST(GithubTest, TamperedBodyFails) {
  std::string body = GithubPush();
  Headers h = GithubHeaders(body, kSecret);
  std::string tampered = Tamper(body);
  ASSERT_NE(tampered, body);
  ASSERT_EQ(tampered.size(), body.size());
  Status s = VerifySignature(Forge::kGithub, h, tampered, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "signature does not match");
  // The tampered body itself still parses: only the signature protects it.
  EXPECT_TRUE(ParsePush(Forge::kGithub, h, tampered).ok());
}

TEST(GithubTest, EmptySecretNeverVerifies) {
  std::string body = GithubPush();
  EXPECT_FALSE(VerifySignature(Forge::kGithub, GithubHeaders(body, ""), body, "").ok());
}

TEST(GithubTest, ParsesBranchPush) {
  std::string body = GithubPush();
  auto ev = ParsePush(Forge::kGithub, GithubHeaders(body, kSecret), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  EXPECT_EQ(ev->event, "push");
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/heads/main");
  EXPECT_EQ(ev->commit, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");  // lowercased
  EXPECT_FALSE(ev->deleted);
  EXPECT_EQ(ev->repository, "Octo-Org/Hello-World");
  EXPECT_EQ(ev->pusher, "Codertocat");
  std::vector<std::string> want = {
      "https://github.com/Octo-Org/Hello-World.git", "git@github.com:Octo-Org/Hello-World.git",
      "git://github.com/Octo-Org/Hello-World.git", "https://github.com/Octo-Org/Hello-World"};
  EXPECT_EQ(ev->repo_urls, want);
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "git@github.com:octo-org/hello-world.git"));
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "https://github.com/Octo-Org/Hello-World"));
  EXPECT_FALSE(RepoMatches(ev->repo_urls, "https://github.com/Octo-Org/Hello-World-2"));
}

TEST(GithubTest, ParsesTagPush) {
  std::string body = GithubTagPush();
  auto ev = ParsePush(Forge::kGithub, GithubHeaders(body, kSecret), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/tags/v1.2.0");
  EXPECT_EQ(ev->commit, "9f1b2c3d4e5f60718293a4b5c6d7e8f901234567");
  EXPECT_FALSE(ev->deleted);
}

TEST(GithubTest, ParsesDeletedBranch) {
  std::string body = GithubDelete();
  auto ev = ParsePush(Forge::kGithub, GithubHeaders(body, kSecret), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_TRUE(ev->deleted);
  EXPECT_EQ(ev->ref, "refs/heads/feature/old");
  EXPECT_EQ(ev->commit, kZeros);
}

TEST(GithubTest, PingIsNotAPush) {
  std::string body = GithubPing();
  Headers h = GithubHeaders(body, kSecret, "ping");
  EXPECT_TRUE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
  auto ev = ParsePush(Forge::kGithub, h, body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_FALSE(ev->is_push);
  EXPECT_EQ(ev->event, "ping");
  EXPECT_EQ(ev->repository, "Octo-Org/Hello-World");
  EXPECT_EQ(ev->pusher, "Codertocat");  // the sender
  EXPECT_TRUE(ev->ref.empty());
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "github.com/octo-org/hello-world"));
}

TEST(GithubTest, FormEncodedPayload) {
  std::string json_body = GithubPush("Mona Lisa+");
  std::string body = "payload=" + FormEncode(json_body);
  ASSERT_NE(body.find('+'), std::string::npos);
  ASSERT_NE(body.find("%22"), std::string::npos);
  Headers h = GithubHeaders(body, kSecret);
  h["content-type"] = "application/x-www-form-urlencoded";
  // The signature covers the form body as sent, not the JSON inside it.
  EXPECT_TRUE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
  auto ev = ParsePush(Forge::kGithub, h, body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->pusher, "Mona Lisa+");  // '+' is a space, %2B a plus
  EXPECT_EQ(ev->ref, "refs/heads/main");
  EXPECT_EQ(ev->commit, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
  EXPECT_EQ(ev->repository, "Octo-Org/Hello-World");
}

TEST(GithubTest, FormEncodedErrors) {
  Headers h = GithubHeaders("", kSecret);
  h["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
  auto bad_escape = ParsePush(Forge::kGithub, h, "payload=%7B%2");
  ASSERT_FALSE(bad_escape.ok());
  EXPECT_NE(bad_escape.error().find("percent-encoding"), std::string::npos);
  auto no_payload = ParsePush(Forge::kGithub, h, "other=1&more=2");
  ASSERT_FALSE(no_payload.ok());
  EXPECT_EQ(no_payload.error(), "form body without 'payload' field");
  auto not_json = ParsePush(Forge::kGithub, h, "x=1&payload=hello");
  ASSERT_FALSE(not_json.ok());
  EXPECT_TRUE(HasPrefix(not_json.error(), "body is not JSON: ")) << not_json.error();
}

TEST(GithubTest, TruncatedBodyIsAParseError) {
  std::string body = GithubPush().substr(0, 900);
  Headers h = GithubHeaders(body, kSecret);
  ASSERT_TRUE(VerifySignature(Forge::kGithub, h, body, kSecret).ok());
  auto ev = ParsePush(Forge::kGithub, h, body);
  ASSERT_FALSE(ev.ok());
  EXPECT_TRUE(HasPrefix(ev.error(), "body is not JSON: ")) << ev.error();
}

TEST(GithubTest, MalformedPushes) {
  auto parse = [](const std::string& body) {
    return ParsePush(Forge::kGithub, GithubHeaders(body, kSecret), body);
  };
  EXPECT_EQ(parse("[1, 2, 3]").error(), "body is not a JSON object");
  EXPECT_EQ(parse("\"push\"").error(), "body is not a JSON object");
  EXPECT_TRUE(HasPrefix(parse("").error(), "body is not JSON: "));
  EXPECT_EQ(parse(R"({"ref": "refs/heads/main"})").error(), "push event without 'after'");
  EXPECT_EQ(parse(R"({"after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})").error(),
            "push event without 'ref'");
  EXPECT_EQ(parse(R"({"ref": 7, "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})").error(),
            "push event without 'ref'");
  EXPECT_FALSE(
      parse(R"({"ref": "main", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})").ok());
  EXPECT_FALSE(
      parse(R"({"ref": "refs/", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})").ok());
  EXPECT_FALSE(parse(R"({"ref": "refs/heads/x", "after": "0d1a26e6"})").ok());
  EXPECT_FALSE(
      parse(R"({"ref": "refs/heads/x", "after": "zd1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"})")
          .ok());
  EXPECT_FALSE(parse(R"({"ref": "refs/heads/x", "after": 12})").ok());
}

TEST(GithubTest, MissingEventHeaderIsAnError) {
  std::string body = GithubPush();
  Headers h = GithubHeaders(body, kSecret);
  h.erase("x-github-event");
  auto ev = ParsePush(Forge::kGithub, h, body);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error(), "missing X-GitHub-Event header");
}

// ---------------------------------------------------------------------------
// GitLab.

TEST(GitlabTest, TokenVerifies) {
  std::string body = GitlabPush();
  EXPECT_TRUE(VerifySignature(Forge::kGitlab, GitlabHeaders(kSecret), body, kSecret).ok());
}

TEST(GitlabTest, WrongTokenFails) {
  std::string body = GitlabPush();
  Status s =
      VerifySignature(Forge::kGitlab, GitlabHeaders("It's a Secret to Everybodx"), body, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find(kSecret), std::string::npos);
  EXPECT_FALSE(VerifySignature(Forge::kGitlab, GitlabHeaders("It's a Secret"), body, kSecret).ok());
  EXPECT_FALSE(VerifySignature(Forge::kGitlab, GitlabHeaders(""), body, kSecret).ok());
}

TEST(GitlabTest, MissingHeaderFails) {
  std::string body = GitlabPush();
  Headers h = GitlabHeaders(kSecret);
  h.erase("x-gitlab-token");
  Status s = VerifySignature(Forge::kGitlab, h, body, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "missing X-Gitlab-Token header");
}

TEST(GitlabTest, EmptySecretNeverVerifies) {
  EXPECT_FALSE(VerifySignature(Forge::kGitlab, GitlabHeaders(""), GitlabPush(), "").ok());
}

TEST(GitlabTest, ParsesBranchPush) {
  std::string body = GitlabPush();
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->delivery_id, "13792a34-cac6-4fda-95a8-c58e00a3954e");
  EXPECT_EQ(ev->event, "Push Hook");
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/heads/master");
  EXPECT_EQ(ev->commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_FALSE(ev->deleted);
  EXPECT_EQ(ev->repository, "mike/diaspora");
  EXPECT_EQ(ev->pusher, "jsmith");
  std::vector<std::string> want = {"http://example.com/mike/diaspora.git",
                                   "git@example.com:mike/diaspora.git",
                                   "http://example.com/mike/diaspora"};
  EXPECT_EQ(ev->repo_urls, want);
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "https://example.com/mike/diaspora.git"));
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "ssh://git@example.com/mike/diaspora"));
  EXPECT_FALSE(RepoMatches(ev->repo_urls, "https://example.com/mike/diaspora-fork.git"));
}

TEST(GitlabTest, ParsesTagPush) {
  std::string body = GitlabTagPush();
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "Tag Push Hook"), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->event, "Tag Push Hook");
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/tags/v1.0.0");
  EXPECT_EQ(ev->commit, "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7");
  EXPECT_FALSE(ev->deleted);
}

TEST(GitlabTest, ParsesDeletedBranch) {
  std::string body = GitlabDelete();
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_TRUE(ev->deleted);
  EXPECT_EQ(ev->commit, kZeros);
  EXPECT_EQ(ev->ref, "refs/heads/feature/old");
}

TEST(GitlabTest, IssueHookIsNotAPush) {
  std::string body = GitlabIssue();
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "Issue Hook"), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_FALSE(ev->is_push);
  EXPECT_EQ(ev->event, "Issue Hook");
  EXPECT_EQ(ev->repository, "mike/diaspora");
  EXPECT_EQ(ev->pusher, "root");
  EXPECT_TRUE(ev->ref.empty());
  EXPECT_TRUE(ev->commit.empty());
}

TEST(GitlabTest, SystemHookPushIsAPush) {
  std::string body = GitlabPush();
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
}

// GitLab's System Hook push and tag events in the shape its documentation
// shows (doc/administration/system_hooks.md): no object_kind, the kind in
// event_name, no user_username. Issue 12: they were answered "not a push".
const std::string kGitlabSystemHookPush = R"({
  "event_name": "push",
  "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
  "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "ref": "refs/heads/master",
  "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
  "user_id": 4,
  "user_name": "John Smith",
  "user_email": "john@example.com",
  "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
  "project_id": 15,
  "project":{
    "name":"Diaspora",
    "description":"",
    "web_url":"http://example.com/mike/diaspora",
    "avatar_url":null,
    "git_ssh_url":"git@example.com:mike/diaspora.git",
    "git_http_url":"http://example.com/mike/diaspora.git",
    "namespace":"Mike",
    "visibility_level":0,
    "path_with_namespace":"mike/diaspora",
    "default_branch":"master",
    "homepage":"http://example.com/mike/diaspora",
    "url":"git@example.com:mike/diaspora.git",
    "ssh_url":"git@example.com:mike/diaspora.git",
    "http_url":"http://example.com/mike/diaspora.git"
  },
  "repository":{
    "name": "Diaspora",
    "url": "git@example.com:mike/diaspora.git",
    "description": "",
    "homepage": "http://example.com/mike/diaspora",
    "git_http_url":"http://example.com/mike/diaspora.git",
    "git_ssh_url":"git@example.com:mike/diaspora.git",
    "visibility_level":0
  },
  "commits": [
    {
      "id": "c5feabde2d8cd023215af4d2ceeb7a64839fc428",
      "message": "Add simple search to projects in public area",
      "timestamp": "2013-05-13T18:18:08+00:00",
      "url": "https://dev.gitlab.org/gitlab/gitlabhq/commit/c5feabde2d8cd023215af4d2ceeb7a64839fc428",
      "author": {
        "name": "Dmitriy Zaporozhets",
        "email": "dmitriy.zaporozhets@gmail.com"
      }
    }
  ],
  "total_commits_count": 1
})";

const std::string kGitlabSystemHookTagPush = R"({
  "event_name": "tag_push",
  "before": "0000000000000000000000000000000000000000",
  "after": "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
  "ref": "refs/tags/v1.0.0",
  "checkout_sha": "5937ac0a7beb003549fc5fd26fc247adbce4a52e",
  "user_id": 1,
  "user_name": "John Smith",
  "user_avatar": "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
  "project_id": 1,
  "project":{
    "name":"Example",
    "description":"",
    "web_url":"http://example.com/jsmith/example",
    "avatar_url":null,
    "git_ssh_url":"git@example.com:jsmith/example.git",
    "git_http_url":"http://example.com/jsmith/example.git",
    "namespace":"Jsmith",
    "visibility_level":0,
    "path_with_namespace":"jsmith/example",
    "default_branch":"master",
    "homepage":"http://example.com/jsmith/example",
    "url":"git@example.com:jsmith/example.git",
    "ssh_url":"git@example.com:jsmith/example.git",
    "http_url":"http://example.com/jsmith/example.git"
  },
  "repository":{
    "name": "Example",
    "url": "ssh://git@example.com/jsmith/example.git",
    "description": "",
    "homepage": "http://example.com/jsmith/example",
    "git_http_url":"http://example.com/jsmith/example.git",
    "git_ssh_url":"git@example.com:jsmith/example.git",
    "visibility_level":0
  },
  "commits": [],
  "total_commits_count": 0
})";

TEST(GitlabTest, Issue12OldSystemHookPushIsAPush) {
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), kGitlabSystemHookPush);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->event, "System Hook");
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/heads/master");
  EXPECT_EQ(ev->commit, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
  EXPECT_FALSE(ev->deleted);
  EXPECT_EQ(ev->repository, "mike/diaspora");
  EXPECT_EQ(ev->pusher, "John Smith");  // this shape has no user_username
  std::vector<std::string> want = {"http://example.com/mike/diaspora.git",
                                   "git@example.com:mike/diaspora.git",
                                   "http://example.com/mike/diaspora"};
  EXPECT_EQ(ev->repo_urls, want);
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "https://example.com/mike/diaspora.git"));

  // With user_username, as newer GitLab versions add, that is the pusher;
  // without the X-Gitlab-Event header the body's event_name names the event.
  std::string with_username = kGitlabSystemHookPush;
  with_username.insert(with_username.find("\"user_name\""), "\"user_username\": \"jsmith\",\n  ");
  Headers h = GitlabHeaders(kSecret);
  h.erase("x-gitlab-event");
  auto bare = ParsePush(Forge::kGitlab, h, with_username);
  ASSERT_TRUE(bare.ok()) << bare.error();
  EXPECT_EQ(bare->event, "push");
  EXPECT_TRUE(bare->is_push);
  EXPECT_EQ(bare->pusher, "jsmith");
}

TEST(GitlabTest, Issue12OldSystemHookTagPushIsAPush) {
  auto ev =
      ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), kGitlabSystemHookTagPush);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/tags/v1.0.0");
  EXPECT_EQ(ev->commit, "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7");
  EXPECT_EQ(ev->repository, "jsmith/example");
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "ssh://git@example.com/jsmith/example"));
}

TEST(GitlabTest, OldSystemHookPushChecksItsFields) {
  // Accepted as a push, so held to a push's rules: a bad one is a 400.
  std::string no_after = R"({"event_name": "push", "ref": "refs/heads/main"})";
  auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), no_after);
  ASSERT_FALSE(ev.ok());
  EXPECT_EQ(ev.error(), "push event without 'after'");
  // Only after is missing: checkout_sha stands in.
  std::string sha_only = R"({"event_name": "push", "ref": "refs/heads/main", "checkout_sha": ")" +
                         std::string(40, 'a') + R"("})";
  ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), sha_only);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->commit, std::string(40, 'a'));
}

TEST(GitlabTest, SystemHookOtherEventsAreNotPushes) {
  for (const char* name : {"repository_update", "project_create", "user_add_to_group"}) {
    std::string body = std::string(R"({"event_name": ")") + name + R"(", "user_name": "John"})";
    auto ev = ParsePush(Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), body);
    ASSERT_TRUE(ev.ok()) << name << ": " << ev.error();
    EXPECT_FALSE(ev->is_push) << name;
    EXPECT_EQ(ev->event, "System Hook");
  }
}

TEST(GitlabTest, DeliveryIdFallsBackToWebhookUuid) {
  std::string body = GitlabPush();
  Headers h = GitlabHeaders(kSecret);
  h.erase("x-gitlab-event-uuid");
  auto ev = ParsePush(Forge::kGitlab, h, body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->delivery_id, "a7a7e3f0-9d7b-4e5b-8c1d-0f1e2d3c4b5a");
}

TEST(GitlabTest, TruncatedAndMalformedBodies) {
  Headers h = GitlabHeaders(kSecret);
  std::string body = GitlabPush();
  auto truncated = ParsePush(Forge::kGitlab, h, body.substr(0, body.size() - 3));
  ASSERT_FALSE(truncated.ok());
  EXPECT_TRUE(HasPrefix(truncated.error(), "body is not JSON: ")) << truncated.error();
  auto no_after =
      ParsePush(Forge::kGitlab, h, R"({"object_kind": "push", "ref": "refs/heads/main"})");
  ASSERT_FALSE(no_after.ok());
  EXPECT_EQ(no_after.error(), "push event without 'after'");
}

// ---------------------------------------------------------------------------
// Gitea.

TEST(GiteaTest, ValidSignatureVerifies) {
  std::string body = GiteaPush();
  EXPECT_TRUE(VerifySignature(Forge::kGitea, GiteaHeaders(body, kSecret), body, kSecret).ok());
}

TEST(GiteaTest, WrongSecretFails) {
  std::string body = GiteaPush();
  Status s = VerifySignature(Forge::kGitea, GiteaHeaders(body, "wrong"), body, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "signature does not match");
}

TEST(GiteaTest, MissingHeaderFails) {
  std::string body = GiteaPush();
  Headers h = GiteaHeaders(body, kSecret);
  h.erase("x-gitea-signature");
  Status s = VerifySignature(Forge::kGitea, h, body, kSecret);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "missing X-Gitea-Signature header");
}

TEST(GiteaTest, TamperedBodyFails) {
  std::string body = GiteaPush();
  Headers h = GiteaHeaders(body, kSecret);
  std::string tampered = Tamper(body);
  ASSERT_NE(tampered, body);
  EXPECT_FALSE(VerifySignature(Forge::kGitea, h, tampered, kSecret).ok());
}

TEST(GiteaTest, ParsesBranchPush) {
  std::string body = GiteaPush();
  auto ev = ParsePush(Forge::kGitea, GiteaHeaders(body, kSecret), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->delivery_id, "f6266f16-1bf3-46a5-9ea4-602e06ead473");
  EXPECT_EQ(ev->event, "push");
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/heads/develop");
  EXPECT_EQ(ev->commit, "bffeb74224043ba2feb48d137756c8a9331c449a");
  EXPECT_FALSE(ev->deleted);
  EXPECT_EQ(ev->repository, "gitea/webhooks");
  EXPECT_EQ(ev->pusher, "gitea");
  std::vector<std::string> want = {"http://localhost:3000/gitea/webhooks.git",
                                   "ssh://gitea@localhost:2222/gitea/webhooks.git",
                                   "http://localhost:3000/gitea/webhooks"};
  EXPECT_EQ(ev->repo_urls, want);
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "http://localhost:3000/gitea/webhooks"));
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "localhost/gitea/webhooks.git"));
  EXPECT_FALSE(RepoMatches(ev->repo_urls, "http://localhost:3000/gitea/other"));
}

TEST(GiteaTest, ParsesTagPushAndDeletion) {
  std::string tag = GiteaPush("refs/tags/v2.0.0", kZeros);
  auto ev = ParsePush(Forge::kGitea, GiteaHeaders(tag, kSecret), tag);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/tags/v2.0.0");
  EXPECT_EQ(ev->commit, "bffeb74224043ba2feb48d137756c8a9331c449a");
  EXPECT_FALSE(ev->deleted);

  std::string del =
      GiteaPush("refs/heads/feature/old", "bffeb74224043ba2feb48d137756c8a9331c449a", kZeros);
  auto gone = ParsePush(Forge::kGitea, GiteaHeaders(del, kSecret), del);
  ASSERT_TRUE(gone.ok()) << gone.error();
  EXPECT_TRUE(gone->is_push);
  EXPECT_TRUE(gone->deleted);
  EXPECT_EQ(gone->commit, kZeros);
}

TEST(GiteaTest, CreateEventIsNotAPush) {
  std::string body = GiteaCreate();
  auto ev = ParsePush(Forge::kGitea, GiteaHeaders(body, kSecret, "create"), body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_FALSE(ev->is_push);
  EXPECT_EQ(ev->event, "create");
  EXPECT_EQ(ev->repository, "gitea/webhooks");
  EXPECT_EQ(ev->pusher, "gitea");
}

TEST(GiteaTest, TruncatedBodyIsAParseError) {
  std::string body = GiteaPush().substr(0, 300);
  Headers h = GiteaHeaders(body, kSecret);
  ASSERT_TRUE(VerifySignature(Forge::kGitea, h, body, kSecret).ok());
  auto ev = ParsePush(Forge::kGitea, h, body);
  ASSERT_FALSE(ev.ok());
  EXPECT_TRUE(HasPrefix(ev.error(), "body is not JSON: ")) << ev.error();
}

// ---------------------------------------------------------------------------
// Generic.

TEST(GenericTest, SignsVerifiesAndParses) {
  std::string body = kGenericPush;
  Headers h = GenericHeaders(body, kSecret);
  EXPECT_TRUE(VerifySignature(Forge::kGeneric, h, body, kSecret).ok());
  auto ev = ParsePush(Forge::kGeneric, h, body);
  ASSERT_TRUE(ev.ok()) << ev.error();
  EXPECT_EQ(ev->delivery_id, "build-4711");
  EXPECT_TRUE(ev->is_push);
  EXPECT_EQ(ev->ref, "refs/heads/main");
  EXPECT_EQ(ev->commit, "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678");
  EXPECT_FALSE(ev->deleted);
  EXPECT_EQ(ev->pusher, "alice");
  EXPECT_EQ(ev->repo_urls, std::vector<std::string>{"https://git.example.com/team/hello.git"});
  EXPECT_TRUE(RepoMatches(ev->repo_urls, "git@git.example.com:team/hello"));
}

TEST(GenericTest, BadSignatures) {
  std::string body = kGenericPush;
  Headers h = GenericHeaders(body, kSecret);
  EXPECT_EQ(VerifySignature(Forge::kGeneric, GenericHeaders(body, "nope"), body, kSecret).message(),
            "signature does not match");
  EXPECT_EQ(VerifySignature(Forge::kGeneric, h, Tamper(body), kSecret).message(),
            "signature does not match");
  h.erase("x-anthill-signature");
  EXPECT_EQ(VerifySignature(Forge::kGeneric, h, body, kSecret).message(),
            "missing X-Anthill-Signature header");
}

TEST(GenericTest, MalformedBodies) {
  Headers h;
  EXPECT_EQ(
      ParsePush(Forge::kGeneric, h, R"({"repository": "https://x/y", "ref": "refs/heads/main"})")
          .error(),
      "push event without 'commit'");
  EXPECT_EQ(
      ParsePush(
          Forge::kGeneric, h,
          R"({"ref": "refs/heads/main", "commit": "1a2b3c4d5e6f708192a3b4c5d6e7f80912345678"})")
          .error(),
      "push event without 'repository'");
  EXPECT_TRUE(HasPrefix(ParsePush(Forge::kGeneric, h, "ref=main").error(), "body is not JSON: "));
  auto deleted =
      ParsePush(Forge::kGeneric, h,
                R"({"repository": "/srv/git/hello.git", "ref": "refs/heads/x", "commit": ")" +
                    std::string(kZeros) + R"("})");
  ASSERT_TRUE(deleted.ok()) << deleted.error();
  EXPECT_TRUE(deleted->deleted);
}

// ---------------------------------------------------------------------------
// URL normalisation.

TEST(NormalizeRepoUrlTest, HeaderExamples) {
  EXPECT_EQ(NormalizeRepoUrl("https://GitHub.com/Org/Repo.git/"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("git@github.com:org/repo.git"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("ssh://git@github.com:22/org/repo"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("/srv/git/hello.git"), "/srv/git/hello");
  EXPECT_EQ(NormalizeRepoUrl("file:///srv/git/hello.git"), "/srv/git/hello");
}

TEST(NormalizeRepoUrlTest, MoreForms) {
  EXPECT_EQ(NormalizeRepoUrl("http://github.com/org/repo"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("git://github.com/org/repo.git"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("https://user:pa55@github.com:443/org/repo.git"),
            "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("https://oauth2@gitlab.example.com/group/sub/proj"),
            "gitlab.example.com/group/sub/proj");
  EXPECT_EQ(NormalizeRepoUrl("ssh://gitea@localhost:2222/gitea/webhooks.git"),
            "localhost/gitea/webhooks");
  EXPECT_EQ(NormalizeRepoUrl("  https://github.com/org/repo//  "), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("github.com/org/repo.git"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("git@github.com:/org/repo.git"), "github.com/org/repo");
  EXPECT_EQ(NormalizeRepoUrl("file://localhost/srv/git/hello.git/"), "/srv/git/hello");
  EXPECT_EQ(NormalizeRepoUrl("/srv/git/hello/"), "/srv/git/hello");
  EXPECT_EQ(NormalizeRepoUrl("https://github.com/org/repo.github.io"),
            "github.com/org/repo.github.io");
  EXPECT_EQ(NormalizeRepoUrl(""), "");
}

// Issue 12: a verified delivery whose body does not parse is stored too, with
// what its headers say; the parsers read the same headers.
TEST(DescribeDeliveryTest, ReadsDeliveryIdAndEventFromTheHeadersAlone) {
  const std::string cut = GithubPush().substr(0, 40);
  struct Case {
    Forge forge;
    Headers headers;
    const char* event;
    const char* delivery_id;
  };
  const Case cases[] = {
      {Forge::kGithub, GithubHeaders(cut, kSecret), "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
      {Forge::kGitlab, GitlabHeaders(kSecret, "System Hook"), "System Hook",
       "13792a34-cac6-4fda-95a8-c58e00a3954e"},
      {Forge::kGitea, GiteaHeaders(cut, kSecret), "push", "f6266f16-1bf3-46a5-9ea4-602e06ead473"},
      {Forge::kGeneric, GenericHeaders(cut, kSecret), "push", "build-4711"},
      {Forge::kGithub, {}, "", ""},
  };
  for (const auto& c : cases) {
    PushEvent ev = DescribeDelivery(c.forge, c.headers);
    EXPECT_EQ(ev.event, c.event) << ToString(c.forge);
    EXPECT_EQ(ev.delivery_id, c.delivery_id) << ToString(c.forge);
    EXPECT_FALSE(ev.is_push);
    EXPECT_TRUE(ev.ref.empty() && ev.commit.empty() && ev.repo_urls.empty());
    EXPECT_FALSE(ParsePush(c.forge, c.headers, cut).ok()) << "the body is cut short";
  }
}

TEST(RepoMatchesTest, MatchesAnyFormAndRejectsOthers) {
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
