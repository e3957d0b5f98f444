// How a deployment ends, decided in one place from what happened to it.
// Thread: pure functions.
#pragma once

#include "queue/project_queue.h"
#include "store/records.h"

namespace anthill::deploy {

struct EndFacts {
  bool ok = false;             // every step passed
  bool shutting_down = false;  // Anthill stopped during it
  bool cancelled = false;      // a person cancelled it
  bool swapped = false;        // the old program was stopped (too late to cancel)
  bool rolled_back = false;    // after a failed swap, the old version runs again
};

// succeeded; else interrupted when Anthill stopped; else cancelled when a
// person cancelled before the swap; else rolled_back or failed.
store::DeploymentStatus DecideEnd(const EndFacts& facts);

// Whether the commit a deployment of `kind` tried is pinned out of automatic
// deploys after it ended with `status`: a deploy that failed, was rolled
// back or was cancelled is not tried again by polls and pushes.
bool PinsItsCommit(queue::Kind kind, store::DeploymentStatus status);

}  // namespace anthill::deploy
