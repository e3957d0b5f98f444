// The one place an error's kind becomes an HTTP status, and back: the API
// answers with HttpStatusFor(error.code()), and the CLI reads the daemon's
// answers with StatusCodeForHttp(). Nothing outside http/ names an HTTP status.
// Thread: any; pure functions.
#pragma once

#include "base/status.h"

namespace anthill::http {

// kOk 200, kInvalidArgument 400, kUnauthenticated 401, kNotFound 404,
// kConflict 409, kCancelled 499 (nginx's "client closed request": the work was
// given up before it ended), kInternal 500, kUnavailable 503, kTimedOut 504.
int HttpStatusFor(StatusCode code);

// The kind of an answer's HTTP status: 2xx and 3xx kOk, the statuses above
// their kind, 401 and 403 kUnauthenticated, 408 kTimedOut, any other 4xx
// kInvalidArgument (the request was wrong), any other status kInternal.
StatusCode StatusCodeForHttp(int http_status);

}  // namespace anthill::http
