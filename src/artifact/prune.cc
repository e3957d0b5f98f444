#include "artifact/prune.h"

#include <algorithm>
#include <cstddef>
#include <tuple>
#include <utility>

namespace anthill::artifact {

namespace {

// Newest first: built_at, then job_id. Key and release only make the order
// total, so that equal entries in any input order give the same answer.
bool Newer(const StoredArtifact& a, const StoredArtifact& b) {
  return std::tie(a.built_at, a.job_id, a.key, a.release) >
         std::tie(b.built_at, b.job_id, b.key, b.release);
}

}  // namespace

std::vector<StoredArtifact> ChooseArtifactsToPrune(std::vector<StoredArtifact> artifacts,
                                                   const std::set<std::string>& in_use_releases,
                                                   int keep) {
  const size_t newest = static_cast<size_t>(std::max(keep, 1));
  std::sort(artifacts.begin(), artifacts.end(), Newer);

  // Kept by key, not by entry: a key is one object in the store, and a kept
  // entry needs it whichever job's row also names it.
  std::set<std::string> kept_keys;
  for (size_t i = 0; i < artifacts.size(); ++i) {
    if (i < newest || in_use_releases.contains(artifacts[i].release)) {
      kept_keys.insert(artifacts[i].key);
    }
  }

  // Still newest first, so the entry taken for a key is its newest.
  std::vector<StoredArtifact> prune;
  std::set<std::string> chosen;
  for (StoredArtifact& a : artifacts) {
    if (kept_keys.contains(a.key) || !chosen.insert(a.key).second) continue;
    prune.push_back(std::move(a));
  }
  std::reverse(prune.begin(), prune.end());
  return prune;
}

}  // namespace anthill::artifact
