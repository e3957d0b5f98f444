// Forge names, what a delivery's headers alone say, and the well-signed
// deliveries whose body or headers ParsePush refuses (a 400), and why; over
// the deliveries checked in under src/watch/testdata/ (see hooks_testdata.h).
#include "watch/hooks.h"

#include <gtest/gtest.h>

#include <string>

#include "base/strings.h"
#include "watch/hooks_testdata.h"

namespace anthill::watch {
namespace {

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

}  // namespace
}  // namespace anthill::watch
