// The subcommands' side of the daemon's HTTP API: a request and its JSON
// answer, the daemon's refusals as errors, the exit code of a failed request,
// and reading the answers' fields for people.
// Thread: the main thread (requests block until answered).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "config/config.h"

namespace anthill::cli {

// JSON for people: indented, and bytes that are not UTF-8 (a ref or user
// name from outside) shown as U+FFFD instead of ending the program.
std::string Pretty(const nlohmann::json& j);

// The field `key` of an answer as text: a string as it is, "" when absent or
// null, anything else as JSON ("12", "true").
std::string Str(const nlohmann::json& j, const char* key);

// An answer's RFC 3339 time for people: "12 s ago"; "never" for "", and
// the text as it is when it is no time.
std::string Ago(const std::string& rfc3339);

// The daemon's refusal of a request: "the daemon said 404: no project 'x'",
// of the kind of its HTTP status (kNotFound for a 404).
Status Refusal(int http_status, const std::string& reason);

// Sends `body` (none when null) to the daemon named in the config; the
// answer's JSON, or an error with the daemon's reason. An answer that is not
// JSON is kUnavailable: whatever sent it is not Anthill.
Result<nlohmann::json> SendJson(const config::Config& cfg, const std::string& method,
                                const std::string& target, const nlohmann::json& body);
Result<nlohmann::json> GetJson(const config::Config& cfg, const std::string& target);

// Prints a failed request's error; its exit code, by the error's kind: the
// daemon not reached (http::Fetch's kUnavailable and kTimedOut, an answer
// that is not Anthill's, a daemon answering 503 while it stops), or refused
// by the daemon (any other kind: a 404, 400, 401, 409...).
int ReportError(const Status& s);

}  // namespace anthill::cli
