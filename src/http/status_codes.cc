#include "http/status_codes.h"

namespace anthill::http {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kConflict:
      return 409;
    case StatusCode::kCancelled:
      return 499;
    case StatusCode::kInternal:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kTimedOut:
      return 504;
  }
  return 500;
}

StatusCode StatusCodeForHttp(int http_status) {
  switch (http_status) {
    case 400:
      return StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return StatusCode::kUnauthenticated;
    case 404:
      return StatusCode::kNotFound;
    case 408:
    case 504:
      return StatusCode::kTimedOut;
    case 409:
      return StatusCode::kConflict;
    case 499:
      return StatusCode::kCancelled;
    case 503:
      return StatusCode::kUnavailable;
  }
  if (http_status >= 200 && http_status < 400) return StatusCode::kOk;
  if (http_status >= 400 && http_status < 500) return StatusCode::kInvalidArgument;
  return StatusCode::kInternal;
}

}  // namespace anthill::http
