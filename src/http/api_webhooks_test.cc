// The webhooks endpoints: GitHub, GitLab, Gitea and generic deliveries are
// verified, stored, deduplicated and matched to the projects.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "http/api_fixture_test.h"
#include "watch/hooks.h"

namespace anthill::http {
namespace {

using nlohmann::json;

std::string GithubPush(const std::string& repo_url, const std::string& ref) {
  json j{{"ref", ref},
         {"before", std::string(40, '0')},
         {"after", std::string(40, 'b')},
         {"deleted", false},
         {"repository", {{"full_name", "acme/hello"}, {"clone_url", repo_url}}},
         {"pusher", {{"name", "octocat"}, {"email", "octo@example.invalid"}}}};
  return j.dump();
}

std::map<std::string, std::string> GithubHeaders(const std::string& body, const std::string& secret,
                                                 const std::string& delivery) {
  return {{"x-github-event", "push"},
          {"x-github-delivery", delivery},
          {"content-type", "application/json"},
          {"x-hub-signature-256", "sha256=" + watch::HmacSha256Hex(secret, body)}};
}

TEST_F(ApiTest, WebhooksAreVerifiedStoredDeduplicatedAndMatched) {
  const std::string body = GithubPush("https://github.com/ACME/hello", "refs/heads/main");
  // Unsigned, wrongly signed, or signed with the secret of another project.
  EXPECT_EQ(Get("/hooks/github", "POST", body, {{"x-github-event", "push"}}).status, 401);
  EXPECT_EQ(Get("/hooks/github", "POST", body, GithubHeaders(body, "wrong", "d1")).status, 401);
  Response other = Get("/hooks/github", "POST", body, GithubHeaders(body, "another", "d0"));
  EXPECT_EQ(other.status, 202) << "the secret of 'other' verifies, but not its repository";
  EXPECT_EQ(json::parse(other.body)["status"], "ignored");
  EXPECT_TRUE(projects_.calls.empty());
  // Signed truncated JSON is malformed.
  std::string cut = body.substr(0, body.size() / 2);
  EXPECT_EQ(Get("/hooks/github", "POST", cut, GithubHeaders(cut, "s3cret", "d2")).status, 400);
  // The real thing: both projects on that repository hear it.
  Response ok = Get("/hooks/github", "POST", body, GithubHeaders(body, "s3cret", "d3"));
  ASSERT_EQ(ok.status, 202) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["status"], "accepted");
  ASSERT_EQ(projects_.calls.size(), 2u);
  EXPECT_EQ(projects_.calls[0], "notify hello refs/heads/main bbbbbbbb webhook octocat");
  EXPECT_EQ(projects_.calls[1], "notify hello-prod refs/heads/main bbbbbbbb webhook octocat");
  // A replayed delivery is answered and ignored.
  Response again = Get("/hooks/github", "POST", body, GithubHeaders(body, "s3cret", "d3"));
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body)["status"], "duplicate");
  EXPECT_EQ(projects_.calls.size(), 2u);
  // Every accepted body is on record with what was done about it.
  auto hooks = store_->ListHookEvents(10);
  ASSERT_TRUE(hooks.ok());
  // Newest first: d3, the malformed d2 (verified, so kept with its reason), d0.
  ASSERT_EQ(hooks->size(), 3u);
  EXPECT_EQ(hooks->front().delivery_id, "d3");
  EXPECT_EQ(hooks->front().verdict, "hello: looking now; hello-prod: looking now");
  EXPECT_EQ(hooks->at(1).delivery_id, "d2");
  EXPECT_EQ(hooks->at(1).verdict.rfind("malformed: ", 0), 0u) << hooks->at(1).verdict;
  EXPECT_EQ(hooks->back().verdict, "ignored: no project deploys this repository");
  Response listed = Get("/api/v1/hooks");
  EXPECT_EQ(json::parse(listed.body)["hooks"][0]["pusher"], "octocat");
  EXPECT_EQ(Get("/hooks/bitbucket", "POST", body).status, 404);
  EXPECT_EQ(Get("/hooks/github", "GET").status, 405);
}

TEST_F(ApiTest, GitlabGiteaAndGenericHooksReachTheProjects) {
  const std::string sha(40, 'd');
  json gitlab{{"object_kind", "push"},
              {"event_name", "push"},
              {"ref", "refs/heads/main"},
              {"before", std::string(40, '0')},
              {"after", sha},
              {"checkout_sha", sha},
              {"user_username", "jsmith"},
              {"project",
               {{"path_with_namespace", "acme/hello"},
                {"git_http_url", "https://github.com/acme/hello.git"},
                {"git_ssh_url", "git@github.com:acme/hello.git"}}},
              {"repository", {{"git_http_url", "https://github.com/acme/hello.git"}}}};
  std::string body = gitlab.dump();
  EXPECT_EQ(Get("/hooks/gitlab", "POST", body,
                {{"x-gitlab-event", "Push Hook"}, {"x-gitlab-token", "nope"}})
                .status,
            401);
  Response r = Get("/hooks/gitlab", "POST", body,
                   {{"x-gitlab-event", "Push Hook"},
                    {"x-gitlab-token", "s3cret"},
                    {"x-gitlab-event-uuid", "g-1"}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(projects_.calls.at(0), "notify hello refs/heads/main dddddddd webhook jsmith");

  json gitea{{"ref", "refs/tags/release-4"},
             {"before", std::string(40, '0')},
             {"after", sha},
             {"repository",
              {{"full_name", "acme/hello"}, {"clone_url", "https://github.com/acme/hello.git"}}},
             {"pusher", {{"login", "gitea-user"}, {"username", "gitea-user"}}}};
  body = gitea.dump();
  r = Get("/hooks/gitea", "POST", body,
          {{"x-gitea-event", "push"},
           {"x-gitea-delivery", "t-1"},
           {"x-gitea-signature", watch::HmacSha256Hex("s3cret", body)}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(projects_.calls.at(3),
            "notify hello-prod refs/tags/release-4 dddddddd webhook gitea-user");

  json generic{{"repository", "https://github.com/acme/other"},
               {"ref", "refs/heads/main"},
               {"commit", sha},
               {"pusher", "ci"}};
  body = generic.dump();
  EXPECT_EQ(Get("/hooks/generic", "POST", body,
                {{"x-anthill-signature", "sha256=" + watch::HmacSha256Hex("s3cret", body)}})
                .status,
            202)
      << "signed with a secret, but not the one of the project that has this repository";
  EXPECT_EQ(projects_.calls.size(), 4u);
  r = Get("/hooks/generic", "POST", body,
          {{"x-anthill-signature", "sha256=" + watch::HmacSha256Hex("another", body)}});
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(projects_.calls.back(), "notify other refs/heads/main dddddddd webhook ci");
}

TEST_F(ApiTest, Issue12AWebhookWhoseDeliveryIdIsNotUtf8KeepsTheHookListWorking) {
  const std::string body = GithubPush("https://github.com/acme/hello", "refs/heads/main");
  Response r = Get("/hooks/github", "POST", body, GithubHeaders(body, "s3cret", "d\xff"));
  ASSERT_EQ(r.status, 202) << r.body;
  r = Get("/hooks/github", "POST", body, GithubHeaders(body, "s3cret", "d\xff"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["delivery_id"], "d" + kReplacement);
  r = Get("/api/v1/hooks");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["hooks"][0]["delivery_id"], "d" + kReplacement);
  // A signed body that is not JSON (nor UTF-8) is a 400, not a 500.
  const std::string bad = "\xff\xfe{}";
  r = Get("/hooks/github", "POST", bad, GithubHeaders(bad, "s3cret", "d2"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(json::parse(r.body)["error"].is_string()) << r.body;
  r = Get("/hooks/generic", "POST", bad,
          {{"x-anthill-signature", "sha256=" + watch::HmacSha256Hex("s3cret", bad)}});
  EXPECT_EQ(r.status, 400) << r.body;
  // And so is an API body that is not UTF-8.
  r = Get("/api/v1/projects/hello/deploy", "POST", "{\"ref\": \"v9\xe9\"}");
  EXPECT_EQ(r.status, 400) << r.body;
}

}  // namespace
}  // namespace anthill::http
