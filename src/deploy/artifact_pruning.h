// Old artifacts of a project go once newer ones are deployed: after each
// successful deployment in a fleet, the project's holder keeps the newest
// `keep_releases` artifacts and every one whose release a machine runs (the
// newest succeeded deployment of each machine, in the record), an
// unfinished deployment uses, or an agent's desired state names (to fetch
// or to run; Fleet::agents), and removes the rest from the artifact store
// (artifact/prune.h decides). Each removed artifact's build jobs are marked
// first (BuildQueue::ForgetArtifact), so no deployment picks it for reuse
// while it goes.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "deploy/remote_build.h"
#include "store/async_record_store.h"

namespace anthill::deploy {

// Returns how many artifacts were removed; errors are logged and end the
// pass (the next deployment's pass tries again).
boost::asio::awaitable<int> PruneArtifacts(Fleet fleet, store::AsyncRecordStore* record,
                                           std::string project, int keep);

}  // namespace anthill::deploy
