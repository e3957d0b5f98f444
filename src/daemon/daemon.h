// `anthill serve`: one process that watches, builds, releases, supervises,
// records and serves the API, on one io_context thread.
// Thread: the calling thread becomes the io_context thread.
#pragma once

#include "base/status.h"
#include "config/config.h"
#include "store/database.h"

namespace anthill::daemon {

// Runs until SIGTERM or SIGINT. Returns the process exit code; start-up
// errors (database, address in use) are printed to stderr.
int Serve(const config::Config& config);

// Where the record lives, from [server] database; an error (kInvalidArgument,
// "<file>: [server] database ...") for a value Anthill cannot use, which
// `anthill check` reports too.
Result<store::Database> DatabaseOf(const config::Config& config);

}  // namespace anthill::daemon
