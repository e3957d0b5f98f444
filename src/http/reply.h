// The JSON answers the daemon sends: a body with a status, and errors as
// {"error": "..."} (ARCHITECTURE.md: "Errors are {"error": "..."} with a
// fitting 4xx/5xx"). Every JSON answer, the server's own refusals included,
// is made here.
// Thread: any; pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "http/message.h"

namespace anthill::http {

// The JSON text of j. Every string written goes through here: stored data
// may hold bytes that are not UTF-8 (a tag "v9\xe9", an actor "%ff"), which
// plain dump() throws on; here each such byte becomes U+FFFD. Never throws.
std::string Dump(const nlohmann::json& j);

// An answer whose body is Dump(body) and a newline.
Response JsonResponse(int status, const nlohmann::json& body);

// {"error": message} with `status`.
Response ErrorResponse(int status, const std::string& message);

// {"error": error.message()} with the HTTP status of its kind
// (HttpStatusFor: kNotFound 404, kInvalidArgument 400, ...).
// REQUIRES: !error.ok()
Response ErrorResponse(const Status& error);

}  // namespace anthill::http
