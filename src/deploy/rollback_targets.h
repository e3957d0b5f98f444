// Which deployment made each release still on disk, so a rollback finds its
// target without reading the record: a person's action is answered at once,
// and the record may be across a network (PostgreSQL) where a read must be
// awaited. Filled at start-up from the record (newest first) and kept up to
// date as deployments end; entries of pruned releases are dropped.
//
// A release is made from one commit, so every deployment that names it names
// the same version: the newest one that made or used it says all there is.
// Plain bookkeeping. Thread: the io_context thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/records.h"

namespace anthill::deploy {

class RollbackTargets {
 public:
  // A deployment that made or used a release (others are ignored). An
  // older one than what is known for its release changes nothing, so the
  // record can be read newest first.
  void Note(const store::Deployment& d);
  // Forgets releases no longer on disk.
  void Forget(const std::vector<std::string>& releases);

  // Whether every release in `releases` has both its newest deployment and
  // its newest succeeded one known: reading older history changes nothing.
  bool Knows(const std::vector<std::string>& releases) const;

  // The deployment to roll back to: with an empty `version`, the newest
  // succeeded one whose release is not `running_release`; else the newest
  // whose version or release dir is `version`. Only releases `exists` says
  // are on disk count.
  std::optional<store::Deployment> Find(
      const std::string& version, const std::string& running_release,
      const std::function<bool(const std::string&)>& exists) const;

 private:
  struct Makers {
    std::optional<store::Deployment> newest;
    std::optional<store::Deployment> newest_succeeded;
  };
  std::map<std::string, Makers> by_release_;
};

}  // namespace anthill::deploy
