// Which of a project's stored artifacts may go: a pure decision, made from
// what the record says (the caller lists the artifacts, which releases are
// in use, how many to keep) and acted on by the caller through
// ArtifactStore::Remove. Nothing here touches a store or the record.
//
// Thread: any; plain values in and out.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/time.h"

namespace anthill::artifact {

// One build's artifact, as the record keeps it.
struct StoredArtifact {
  int64_t job_id = 0;   // the build job that stored it
  std::string key;      // its key in the store ("<project>/<version>.tar.zst")
  std::string release;  // the release it was built as
  TimePoint built_at;   // when the build finished
};

// Chooses, among `artifacts` (one project's), those to remove. Kept are:
//   - the newest `keep` entries, by built_at and, on equal times, the higher
//     job_id (keep < 1 counts as 1: the newest artifact always stays);
//   - every entry whose release is in `in_use_releases` (a release a
//     machine runs, or one an unfinished deployment uses), whether or not
//     it is among the newest;
//   - every entry whose key a kept entry also has: two jobs may store under
//     one key, and removing it would take the kept one's bytes too.
// Returns the rest, one entry per key (of a key's entries, the newest: the
// build whose bytes the key holds now), oldest first. An empty answer means
// nothing to remove.
std::vector<StoredArtifact> ChooseArtifactsToPrune(std::vector<StoredArtifact> artifacts,
                                                   const std::set<std::string>& in_use_releases,
                                                   int keep);

}  // namespace anthill::artifact
