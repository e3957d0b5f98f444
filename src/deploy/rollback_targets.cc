#include "deploy/rollback_targets.h"

namespace anthill::deploy {

namespace {
void KeepNewer(std::optional<store::Deployment>& kept, const store::Deployment& d) {
  if (kept && kept->id >= d.id) return;
  kept = d;
  kept->steps.clear();  // not needed to roll back; keeps the index small
}
}  // namespace

void RollbackTargets::Note(const store::Deployment& d) {
  if (d.release.empty()) return;
  Makers& m = by_release_[d.release];
  KeepNewer(m.newest, d);
  if (d.status == store::DeploymentStatus::kSucceeded) KeepNewer(m.newest_succeeded, d);
}

void RollbackTargets::Forget(const std::vector<std::string>& releases) {
  for (const auto& r : releases) by_release_.erase(r);
}

bool RollbackTargets::Knows(const std::vector<std::string>& releases) const {
  for (const auto& r : releases) {
    auto it = by_release_.find(r);
    if (it == by_release_.end() || !it->second.newest || !it->second.newest_succeeded) return false;
  }
  return true;
}

std::optional<store::Deployment> RollbackTargets::Find(
    const std::string& version, const std::string& running_release,
    const std::function<bool(const std::string&)>& exists) const {
  const store::Deployment* best = nullptr;
  for (const auto& [release, makers] : by_release_) {
    const std::optional<store::Deployment>& d =
        version.empty() ? makers.newest_succeeded : makers.newest;
    if (!d) continue;
    const bool wanted = version.empty() ? release != running_release
                                        : d->to_version == version || release == version;
    if (!wanted || !exists(release)) continue;
    if (best == nullptr || d->id > best->id) best = &*d;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

}  // namespace anthill::deploy
