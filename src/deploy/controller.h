// What the rest of Anthill (the HTTP API, the web page) may ask of the deploy
// side: the live state of each project. Implemented by the daemon.
// Thread: the io_context thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::deploy {

struct ProjectState {
  std::string name;
  std::string repo;
  std::string branch;              // or empty for tag-driven projects
  std::string tags;
  std::string state;               // "running", "stopped", "deploying", "starting"
  std::string health;              // "healthy", "unhealthy", "unknown"
  std::string version;             // running version label, empty when none
  std::string commit;              // running commit (40 hex), empty when none
  std::string release;             // release dir name
  int64_t pid = 0;                 // 0 when not running
  std::optional<TimePoint> started_at;  // when the running process started
  int64_t last_deployment_id = 0;  // 0 when none yet
  std::string last_deployment_status;
  std::string last_error;          // of the last failed deployment or poll, else empty
};

class Controller {
 public:
  virtual ~Controller() = default;
  virtual std::vector<ProjectState> Projects() const = 0;
};

}  // namespace anthill::deploy
