#include "deploy/outcome.h"

namespace anthill::deploy {

store::DeploymentStatus DecideEnd(const EndFacts& f) {
  using S = store::DeploymentStatus;
  if (f.ok) return S::kSucceeded;
  if (f.shutting_down) return S::kInterrupted;
  // Once the old program was stopped, a cancel came too late to mean "keep
  // the old version": what happened is a failure (or a rollback).
  if (f.cancelled && !f.swapped) return S::kCancelled;
  return f.rolled_back ? S::kRolledBack : S::kFailed;
}

bool PinsItsCommit(queue::Kind kind, store::DeploymentStatus status) {
  using S = store::DeploymentStatus;
  if (kind != queue::Kind::kDeploy) return false;  // a rollback's target was good before
  return status == S::kFailed || status == S::kRolledBack || status == S::kCancelled;
}

}  // namespace anthill::deploy
