// A build job: fetch one commit into the project's workspace, build it, test
// it, and keep the result as an immutable release. It never touches the
// running program (a failure here leaves it serving), and depends on git/,
// build/ and release/ only, so that it can run on a builder in a fleet.
// Input: a deployment id and a candidate; output: the release's name.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "build/step_runner.h"
#include "config/config.h"
#include "deploy/step_sink.h"
#include "git/git.h"
#include "release/releases.h"
#include "store/candidate.h"

namespace anthill::deploy {

// How a project is built: plain values, filled from its config.
struct BuildSpec {
  std::string project;
  std::string repo;
  std::string build;                   // shell text; empty: no build step
  std::string test;                    // shell text; empty: no test step
  std::vector<std::string> artifacts;  // what the release keeps; empty: the whole workspace
  Duration timeout{0};                 // per step
  std::filesystem::path project_dir;   // the workspace and its dirty marker live here
  config::Project::Clean clean = config::Project::Clean::kNever;  // git clean before the build
};

// A build job's `clean` word (store/build_queue.h) as a BuildSpec's; an
// unknown word (a newer orchestrator's) is "never".
config::Project::Clean CleanOfJob(std::string_view word);

// What the coordinator lets a build know while it runs.
struct BuildControls {
  std::shared_ptr<build::CommandStopper> stopper;  // stops the running command
  std::function<bool()> stopped;                   // cancelled, or Anthill is stopping
  std::function<store::StepStatus()> stopped_as;   // how a stopped step is recorded
  std::function<std::string()> disk_full_hint;     // "; the data dir ... is full", or ""
};

// Where one deployment's build writes.
struct BuildTarget {
  int64_t deployment_id = 0;
  store::Candidate candidate;
  std::vector<std::string> env;  // for build and test
  std::filesystem::path log;     // appended
  std::string log_shown;         // "`anthill logs hello --build 42`"
};

class BuildJob {
 public:
  BuildJob(git::Git* git, release::Releases* releases, StepSink* steps, BuildSpec spec);

  // A release already built from this commit, recorded as the deployment's
  // only step ("release"): no fetch, no build.
  std::optional<std::string> Reuse(const BuildTarget& t);
  // fetch -> build -> test -> release; the release's name, or why not.
  boost::asio::awaitable<Result<std::string>> Run(const BuildTarget& t, const BuildControls& c);

 private:
  // Why this build starts from a cleaned workspace ("" when it does not):
  // an interrupted build's marker, `clean`, or a failed build's marker.
  std::string WhyClean(const std::filesystem::path& dirty,
                       const std::filesystem::path& failed) const;

  git::Git* git_;
  release::Releases* releases_;
  StepSink* steps_;
  BuildSpec spec_;
};

}  // namespace anthill::deploy
