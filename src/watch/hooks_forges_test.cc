// What each forge's deliveries parse to: pushes of branches and tags,
// deletions and other events, one row a delivery (checked in under
// src/watch/testdata/, see hooks_testdata.h), and which project repos the
// URLs it carries match.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "watch/hooks.h"
#include "watch/hooks_testdata.h"

namespace anthill::watch {
namespace {

const std::vector<std::string> kGithubUrls = {
    "https://github.com/Octo-Org/Hello-World.git", "git@github.com:Octo-Org/Hello-World.git",
    "git://github.com/Octo-Org/Hello-World.git", "https://github.com/Octo-Org/Hello-World"};
const std::vector<std::string> kGitlabUrls = {"http://example.com/mike/diaspora.git",
                                              "git@example.com:mike/diaspora.git",
                                              "http://example.com/mike/diaspora"};
const std::vector<std::string> kGiteaUrls = {"http://localhost:3000/gitea/webhooks.git",
                                             "ssh://gitea@localhost:2222/gitea/webhooks.git",
                                             "http://localhost:3000/gitea/webhooks"};
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

}  // namespace
}  // namespace anthill::watch
