// The plain specs each part of a deployment takes, filled from a project's
// config: how to poll (watch/), build (deploy/build_job) and run (supervise/).
// Thread: pure functions.
#pragma once

#include <filesystem>

#include "config/config.h"
#include "deploy/build_job.h"
#include "supervise/spec.h"
#include "watch/poller.h"

namespace anthill::deploy {

watch::PollRule PollRuleOf(const config::Project& p);
BuildSpec BuildSpecOf(const config::Project& p, const std::filesystem::path& data_dir);
supervise::ProgramSpec ProgramSpecOf(const config::Project& p,
                                     const std::filesystem::path& data_dir);

}  // namespace anthill::deploy
