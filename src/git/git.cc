#include "git/git.h"

#include <fnmatch.h>
#include <string.h>

#include <atomic>

#include "base/files.h"
#include "base/strings.h"
#include "os/command.h"

namespace anthill::git {

namespace asio = boost::asio;
namespace fs = std::filesystem;

std::vector<RemoteRef> ParseLsRemote(std::string_view output) {
  std::vector<RemoteRef> refs;
  for (const std::string& line : SplitLines(output)) {
    size_t tab = line.find('\t');
    if (tab != 40 || !IsFullSha(line.substr(0, 40))) continue;
    std::string name = line.substr(41);
    std::string commit = line.substr(0, 40);
    static const std::string kPeeled = "^{}";
    if (name.size() > kPeeled.size() &&
        name.compare(name.size() - kPeeled.size(), kPeeled.size(), kPeeled) == 0) {
      name.resize(name.size() - kPeeled.size());
      for (auto& r : refs) {
        if (r.name == name) r.commit = commit;
      }
      continue;
    }
    refs.push_back({std::move(name), std::move(commit)});
  }
  return refs;
}

std::optional<RemoteRef> NewestMatchingTag(const std::vector<RemoteRef>& refs,
                                           const std::string& glob) {
  static const std::string kTagPrefix = "refs/tags/";
  std::optional<RemoteRef> best;
  for (const auto& r : refs) {
    if (!StartsWith(r.name, kTagPrefix)) continue;
    std::string tag = r.name.substr(kTagPrefix.size());
    if (fnmatch(glob.c_str(), tag.c_str(), 0) != 0) continue;
    if (!best || strverscmp(tag.c_str(), best->name.c_str() + kTagPrefix.size()) > 0) best = r;
  }
  return best;
}

std::string VersionLabel(const std::string& ref, const std::string& commit) {
  static const std::string kTagPrefix = "refs/tags/";
  static const std::string kHeadPrefix = "refs/heads/";
  if (StartsWith(ref, kTagPrefix)) return ref.substr(kTagPrefix.size());
  std::string branch = StartsWith(ref, kHeadPrefix) ? ref.substr(kHeadPrefix.size()) : ref;
  return branch + "-" + commit.substr(0, 8);
}

Status ValidateBranchName(std::string_view b) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad branch name '" + std::string(b) + "': " + why);
  };
  if (b.empty()) return bad("empty");
  if (b.front() == '-') return bad("starts with '-'");
  if (b.front() == '/' || b.back() == '/') return bad("starts or ends with '/'");
  if (b.back() == '.') return bad("ends with '.'");
  if (b.find("..") != std::string_view::npos) return bad("contains '..'");
  if (b.find("//") != std::string_view::npos) return bad("contains '//'");
  if (b.find("@{") != std::string_view::npos) return bad("contains '@{'");
  if (b == "@") return bad("is '@'");
  for (char c : b) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || strchr(" ~^:?*[\\", c) != nullptr) {
      return bad("contains a space, control character or one of ~^:?*[\\");
    }
  }
  if (b.find(".lock") != std::string_view::npos && b.size() >= 5 &&
      b.substr(b.size() - 5) == ".lock") {
    return bad("ends with '.lock'");
  }
  return Status::Ok();
}

Git::Git(fs::path scratch_dir, Duration timeout)
    : scratch_dir_(std::move(scratch_dir)), timeout_(timeout) {}

namespace {

// GCC 12 cannot keep a braced list of strings in a coroutine frame ("array
// used as initializer"), so coroutines build argv through this plain function.
template <typename... Args>
std::vector<std::string> Argv(const Args&... args) {
  return std::vector<std::string>{std::string(args)...};
}

std::vector<std::string> GitEnvironment() {
  // git never asks a question on a terminal here (there is no one to answer),
  // and its messages are in English so they read the same in every log.
  std::vector<std::string> env;
  for (auto& kv : os::CurrentEnvironment()) {
    if (StartsWith(kv, "GIT_") || StartsWith(kv, "LC_ALL=") || StartsWith(kv, "LANG=")) continue;
    env.push_back(kv);
  }
  env.push_back("GIT_TERMINAL_PROMPT=0");
  env.push_back("GIT_ASKPASS=/bin/false");
  env.push_back("SSH_ASKPASS=/bin/false");
  env.push_back("LC_ALL=C");
  return env;
}

}  // namespace

asio::awaitable<Status> Git::Run(std::vector<std::string> args, const fs::path& cwd,
                                 const fs::path& log, std::string* output) {
  std::error_code ec;
  fs::create_directories(scratch_dir_, ec);
  // One counter for the whole process: every project has its own Git, and
  // they share scratch_dir, so a per-object counter gave two projects' runs
  // the same file and each read the other's output.
  static std::atomic<unsigned long> counter{0};
  fs::path out = scratch_dir_ /
                 ("git-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".out");
  os::SpawnOptions opts;
  opts.argv = {"git"};
  opts.argv.insert(opts.argv.end(), args.begin(), args.end());
  opts.cwd = cwd;
  opts.env = GitEnvironment();
  opts.output = out;
  auto result = co_await os::RunCommand(opts, timeout_);
  std::string text = ReadWholeFile(out);
  fs::remove(out, ec);

  std::string shown = "git";
  for (const auto& a : args) shown += " " + a;
  // The log is a record for people; a line that cannot be written there
  // does not fail the fetch.
  if (!log.empty()) (void)AppendToFile(log, "$ " + shown + "\n" + text);
  if (output) *output = text;
  if (!result.ok()) co_return result.status();
  if (result->code() != StatusCode::kOk) {
    co_return Status::Error(result->code(), shown + " failed (" + result->Describe() +
                                                "): " + std::string(Trim(Tail(text, 2000))));
  }
  co_return Status::Ok();
}

asio::awaitable<Result<std::vector<RemoteRef>>> Git::LsRemote(
    const std::string& repo, const std::vector<std::string>& patterns) {
  std::vector<std::string> args = Argv("ls-remote", "--end-of-options", repo);
  args.insert(args.end(), patterns.begin(), patterns.end());
  std::string output;
  const fs::path no_dir, no_log;
  Status s = co_await Run(args, no_dir, no_log, &output);
  if (!s.ok()) co_return s;
  co_return ParseLsRemote(output);
}

asio::awaitable<Status> Git::FetchAndCheckout(const fs::path& workspace, const std::string& repo,
                                              const std::string& ref, const std::string& commit,
                                              const fs::path& log) {
  if (!IsFullSha(commit)) {
    co_return Status::InvalidArgument("not a full commit id: '" + commit + "'");
  }
  std::error_code ec;
  if (!fs::exists(workspace / ".git", ec)) {
    fs::create_directories(workspace, ec);
    if (ec) co_return Status::Error("cannot create " + workspace.string() + ": " + ec.message());
    Status s = co_await Run(Argv("init", "--quiet", "."), workspace, log, nullptr);
    if (!s.ok()) co_return s;
  }
  // The remote is passed by URL on every fetch rather than stored, so a
  // changed `repo` in the config takes effect at once.
  const std::string refspec = "+" + ref + ":refs/anthill/fetched";
  Status s = co_await Run(
      Argv("fetch", "--quiet", "--no-tags", "--force", "--end-of-options", repo, refspec),
      workspace, log, nullptr);
  if (!s.ok()) co_return s;
  const std::string commit_object = commit + "^{commit}";
  s = co_await Run(Argv("cat-file", "-e", commit_object), workspace, log, nullptr);
  if (!s.ok()) {
    co_return Status::NotFound("commit " + commit + " is not on " + ref +
                               " any more (the branch was rewritten?)");
  }
  s = co_await Run(Argv("checkout", "--quiet", "--force", "--detach", commit), workspace, log,
                   nullptr);
  co_return s;
}

asio::awaitable<Status> Git::Clean(const fs::path& workspace, const fs::path& log) {
  std::error_code ec;
  if (!fs::exists(workspace / ".git", ec)) co_return Status::Ok();
  co_return co_await Run(Argv("clean", "-ffdxq"), workspace, log, nullptr);
}

}  // namespace anthill::git
