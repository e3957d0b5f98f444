// GET /metrics: Prometheus text exposition format (version 0.0.4): the
// deployments on record by project and status, each program's state, the
// queues and the build slots.
// Thread: the io_context thread; the record is awaited.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/async_record_store.h"

namespace anthill::http {

// The counts of deployments are left out when the record cannot be read:
// the rest still tells whether the programs run.
// REQUIRES: record and controller outlive the coroutine.
boost::asio::awaitable<Response> Metrics(store::AsyncRecordStore* record,
                                         const deploy::Controller* controller);

}  // namespace anthill::http
