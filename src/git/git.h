// The git command line as argv (never a shell): ls-remote to poll, fetch and
// checkout into a persistent workspace. Ref names from outside are data: they
// are validated, and passed after --end-of-options where git accepts it.
// Thread: the io_context thread (each call awaits a git child process).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::git {

struct RemoteRef {
  std::string name;    // "refs/heads/main", "refs/tags/release-1"
  std::string commit;  // 40 hex; for annotated tags, the commit it points to
};

// Parses `git ls-remote` output; annotated tags' "^{}" lines replace the tag
// object with the commit. Lines that are not "<40 hex>\t<ref>" are skipped.
std::vector<RemoteRef> ParseLsRemote(std::string_view output);

// The newest tag matching glob (fnmatch), by version order of the tag name
// ("release-10" after "release-9"); nullopt when none matches.
std::optional<RemoteRef> NewestMatchingTag(const std::vector<RemoteRef>& refs,
                                           const std::string& glob);

// "main-1a2b3c4d" for a branch; the tag name for "refs/tags/<tag>".
std::string VersionLabel(const std::string& ref, const std::string& commit);

// A branch name safe to hand to git: what `git check-ref-format --branch`
// accepts, minus a leading '-'. Errors say why.
Status ValidateBranchName(std::string_view branch);

class Git {
 public:
  // scratch_dir holds output files of git runs; env is the base environment.
  Git(std::filesystem::path scratch_dir, Duration timeout = Duration(10 * 60 * 1000));

  // Errors of a git run carry its kind: kTimedOut past the time limit, kInternal
  // when git failed (its exit code says nothing a caller could act on), the
  // kind os::Spawn gave when git could not start.

  // Refs of `repo` matching the patterns (e.g. "refs/heads/main", "refs/tags/*").
  boost::asio::awaitable<Result<std::vector<RemoteRef>>> LsRemote(
      const std::string& repo, const std::vector<std::string>& patterns);

  // Makes `workspace` a git checkout of `commit` fetched from repo's `ref`:
  // init on first use, fetch the ref, then check out the exact commit
  // (detached, forced: tracked files match the commit; untracked build outputs
  // stay for incremental builds). Appends git's output to `log`. A commit
  // that is not on `ref` (any more) is kNotFound; a commit that is not 40 hex
  // is kInvalidArgument.
  boost::asio::awaitable<Status> FetchAndCheckout(const std::filesystem::path& workspace,
                                                  const std::string& repo, const std::string& ref,
                                                  const std::string& commit,
                                                  const std::filesystem::path& log);

  // Removes every untracked and ignored file from a checkout (`git clean
  // -ffdx`): a fresh build after one that was killed half-way.
  boost::asio::awaitable<Status> Clean(const std::filesystem::path& workspace,
                                       const std::filesystem::path& log);

 private:
  boost::asio::awaitable<Status> Run(std::vector<std::string> args,
                                     const std::filesystem::path& cwd,
                                     const std::filesystem::path& log, std::string* output);

  std::filesystem::path scratch_dir_;
  Duration timeout_;
};

}  // namespace anthill::git
