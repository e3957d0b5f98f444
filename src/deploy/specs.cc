#include "deploy/specs.h"

namespace anthill::deploy {

namespace fs = std::filesystem;

namespace {
fs::path ProjectDir(const config::Project& p, const fs::path& data_dir) {
  return data_dir / "projects" / p.name;
}
}  // namespace

watch::PollRule PollRuleOf(const config::Project& p) { return {p.repo, p.branch, p.tags, p.poll}; }

BuildSpec BuildSpecOf(const config::Project& p, const fs::path& data_dir) {
  BuildSpec s{
      p.name, p.repo, p.build, p.test, p.artifacts, p.build_timeout, ProjectDir(p, data_dir)};
  s.clean = p.clean;
  return s;
}

supervise::ProgramSpec ProgramSpecOf(const config::Project& p, const fs::path& data_dir) {
  supervise::ProgramSpec s;
  s.project = p.name;
  s.run = p.run;
  s.stop_signal = p.stop_signal;
  s.stop_timeout = p.stop_timeout;
  s.restart = p.restart;
  s.health = p.health;
  s.listen = p.listen;
  s.ready_notify = p.ready_notify;
  s.app_log = data_dir / "logs" / "app" / (p.name + ".log");
  s.log_max_size = p.log_max_size;
  s.project_dir = ProjectDir(p, data_dir);
  s.releases_dir = s.project_dir / "releases";
  s.notify_socket = data_dir / "run" / (p.name + ".notify");
  s.shared = p.shared;
  return s;
}

}  // namespace anthill::deploy
