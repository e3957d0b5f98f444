// The forms one repository goes by (NormalizeRepoUrl) and matching a
// delivery's URLs to a project's repo (RepoMatches).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "watch/hooks.h"

namespace anthill::watch {
namespace {

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
