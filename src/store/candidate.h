// A commit that may be deployed, as the watchers find it and the queue,
// the build and the record carry it.
// Thread: a plain value.
#pragma once

#include <string>

namespace anthill::store {

struct Candidate {
  std::string ref;      // "refs/heads/main" or "refs/tags/release-3"
  std::string commit;   // 40 hex
  std::string version;  // label: "main-3f2a1b9c", "release-3"
};

}  // namespace anthill::store
