#include "git/git.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>

#include "base/strings.h"
#include "testing/testing.h"

namespace anthill::git {
namespace {

using testing::Sh;
using testing::TempDir;

const char* kCommitScript = "git -c user.name=t -c user.email=t@example.invalid commit -qm";

// Runs one awaitable to completion on a fresh io_context.
template <typename T>
T RunAwait(boost::asio::awaitable<T> a) {
  boost::asio::io_context io;
  std::optional<T> out;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(a)); },
      boost::asio::detached);
  io.run();
  return std::move(*out);
}

TEST(ParseLsRemote, PeelsAnnotatedTagsAndSkipsNoise) {
  std::string a(40, 'a'), b(40, 'b'), c(40, 'c');
  auto refs = ParseLsRemote(a + "\trefs/heads/main\n" + b + "\trefs/tags/v1\n" + c +
                            "\trefs/tags/v1^{}\nwarning: junk\n");
  ASSERT_EQ(refs.size(), 2u);
  EXPECT_EQ(refs[0].name, "refs/heads/main");
  EXPECT_EQ(refs[0].commit, a);
  EXPECT_EQ(refs[1].name, "refs/tags/v1");
  EXPECT_EQ(refs[1].commit, c);
}

TEST(NewestMatchingTag, UsesVersionOrderAndTheGlob) {
  std::vector<RemoteRef> refs = {{"refs/tags/release-9", std::string(40, '9')},
                                 {"refs/tags/release-10", std::string(40, 'a')},
                                 {"refs/tags/other-99", std::string(40, 'b')},
                                 {"refs/heads/release-11", std::string(40, 'c')}};
  auto t = NewestMatchingTag(refs, "release-*");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->name, "refs/tags/release-10");
  EXPECT_FALSE(NewestMatchingTag(refs, "v*").has_value());
}

TEST(VersionLabel, BranchShaOrTagName) {
  std::string sha = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d";
  EXPECT_EQ(VersionLabel("refs/heads/main", sha), "main-1a2b3c4d");
  EXPECT_EQ(VersionLabel("refs/heads/feature/x", sha), "feature/x-1a2b3c4d");
  EXPECT_EQ(VersionLabel("refs/tags/release-7", sha), "release-7");
}

TEST(ValidateBranchName, RefusesWhatGitOrAShellWouldMisread) {
  for (const char* ok : {"main", "feature/x", "release-1.2", "a_b"}) {
    EXPECT_TRUE(ValidateBranchName(ok).ok()) << ok;
  }
  struct Case {
    const char* name;
    const char* why;
  } bad[] = {{"", "empty"},
             {"-rf", "starts with '-'"},
             {"a..b", "contains '..'"},
             {"a b", "contains a space, control character or one of ~^:?*[\\"},
             {"x.lock", "ends with '.lock'"},
             {"/x", "starts or ends with '/'"}};
  for (const auto& c : bad) {
    Status s = ValidateBranchName(c.name);
    EXPECT_EQ(s.message(), std::string("bad branch name '") + c.name + "': " + c.why);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.name;
  }
}

class GitRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Sh(dir_.path(), std::string("git init -q -b main origin && cd origin && echo one > f && "
                                "git add f && ") +
                        kCommitScript + " one");
  }
  std::string Head() { return std::string(Trim(Sh(dir_ / "origin", "git rev-parse HEAD"))); }
  TempDir dir_;
};

TEST_F(GitRepoTest, LsRemoteSeesTheBranchHead) {
  Git git(dir_ / "scratch");
  // Arguments live in locals: an awaitable starts lazily, after the call's
  // temporaries are gone.
  const std::string repo = (dir_ / "origin").string();
  const std::vector<std::string> patterns = {"refs/heads/main"};
  auto refs = RunAwait(git.LsRemote(repo, patterns));
  ASSERT_TRUE(refs.ok()) << refs.error();
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].commit, Head());
}

// Issue 11, item 2: four projects on one repository, each with its own Git
// over the shared scratch dir, polling at the same moment. Each numbered its
// output files from 1, so three of four read another's output (or none).
TEST_F(GitRepoTest, ProjectsPollingAtOnceEachReadTheirOwnOutput) {
  Sh(dir_ / "origin", "git branch second && git branch third && git branch fourth");
  const std::string repo = (dir_ / "origin").string();
  const std::vector<std::string> branches = {"main", "second", "third", "fourth"};
  std::vector<std::unique_ptr<Git>> gits;
  for (size_t i = 0; i < branches.size(); ++i)
    gits.push_back(std::make_unique<Git>(dir_ / "scratch"));
  boost::asio::io_context io;
  std::vector<std::string> seen(branches.size());
  for (size_t i = 0; i < branches.size(); ++i) {
    boost::asio::co_spawn(
        io,
        [&, i]() -> boost::asio::awaitable<void> {
          const std::vector<std::string> patterns = {"refs/heads/" + branches[i]};
          auto refs = co_await gits[i]->LsRemote(repo, patterns);
          if (refs.ok() && refs->size() == 1) seen[i] = (*refs)[0].name;
        },
        boost::asio::detached);
  }
  io.run();
  for (size_t i = 0; i < branches.size(); ++i) EXPECT_EQ(seen[i], "refs/heads/" + branches[i]);
}

TEST_F(GitRepoTest, LsRemoteOfAMissingRepoSaysWhy) {
  Git git(dir_ / "scratch");
  const std::string repo = (dir_ / "nope").string();
  const std::vector<std::string> patterns = {"refs/heads/main"};
  auto refs = RunAwait(git.LsRemote(repo, patterns));
  ASSERT_FALSE(refs.ok());
  EXPECT_EQ(refs.code(), StatusCode::kInternal) << "git's exit 128 tells no kind";
  EXPECT_NE(refs.error().find("git ls-remote --end-of-options"), std::string::npos) << refs.error();
  EXPECT_NE(refs.error().find("does not appear to be a git repository"), std::string::npos)
      << refs.error();
}

TEST_F(GitRepoTest, FetchAndCheckoutTheExactCommitKeepingBuildOutputs) {
  Git git(dir_ / "scratch");
  std::string first = Head();
  Sh(dir_ / "origin", std::string("echo two > f && ") + kCommitScript + " two -a");
  std::string second = Head();
  const std::filesystem::path ws = dir_ / "ws", log = dir_ / "log";
  const std::string repo = (dir_ / "origin").string(), ref = "refs/heads/main";
  Status s = RunAwait(git.FetchAndCheckout(ws, repo, ref, first, log));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(testing::ReadFile(ws / "f"), "one\n");
  testing::WriteFile(ws / "build-output", "kept");
  s = RunAwait(git.FetchAndCheckout(ws, repo, ref, second, log));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(testing::ReadFile(ws / "f"), "two\n");
  EXPECT_EQ(testing::ReadFile(ws / "build-output"), "kept");
  EXPECT_NE(testing::ReadFile(dir_ / "log").find("$ git fetch"), std::string::npos);
}

TEST_F(GitRepoTest, ACommitNotOnTheBranchIsRefused) {
  Git git(dir_ / "scratch");
  const std::string missing(40, 'e'), repo = (dir_ / "origin").string(), ref = "refs/heads/main";
  const std::filesystem::path ws = dir_ / "ws", log = dir_ / "log";
  Status s = RunAwait(git.FetchAndCheckout(ws, repo, ref, missing, log));
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "commit " + missing +
                             " is not on refs/heads/main any more (the branch was rewritten?)");
  s = RunAwait(git.FetchAndCheckout(ws, repo, ref, "e", log));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "not a full commit id: 'e'");
}

TEST_F(GitRepoTest, AGitThatRunsPastItsTimeIsTimedOut) {
  // A git:// remote that takes the connection (the kernel's backlog does)
  // and never answers.
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Git git(dir_ / "scratch", Duration(300));
  const std::string repo = "git://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/silent";
  const std::vector<std::string> patterns = {"refs/heads/main"};
  auto refs = RunAwait(git.LsRemote(repo, patterns));
  ASSERT_FALSE(refs.ok());
  EXPECT_EQ(refs.code(), StatusCode::kTimedOut) << refs.error();
  EXPECT_NE(refs.error().find("timed out after"), std::string::npos) << refs.error();
  close(fd);
}

}  // namespace
}  // namespace anthill::git
