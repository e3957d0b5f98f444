// An HTTP/1.1 client for coroutines: one request, one answer, on the
// caller's executor (no thread of its own), bounded by one deadline for the
// whole exchange (connect, send, answer). What an agent speaks to its
// orchestrator: the desired-state long poll and the reports (API v1, JSON).
// Each call opens its own connection: calls are few (a long poll every 30 s,
// a report now and then), and a fresh connection per call is what fails
// over cleanly to another orchestrator.
//
// Thread: coroutines on the caller's io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/time.h"
#include "http/client.h"
#include "http/url.h"

namespace anthill::http {

// "http://host:port" taken apart: what is resolved, what is sent as Host.

// Sends `method` `target` (path and query, e.g. "/api/v1/x?y=1") to
// base_url, with "Authorization: Bearer <token>" when token is not empty
// and, for any method but GET and HEAD, "Content-Type: application/json"
// and `body`. An answer of any HTTP status is a ClientResponse (bodies up to
// 64 MiB). Errors: kInvalidArgument for a bad base_url (see ParseBaseUrl);
// kTimedOut when no whole answer came within `timeout`; kUnavailable when
// the server could not be reached or closed without answering. Messages
// name the URL ("cannot reach http://127.0.0.1:7070: Connection refused").
// Parameters are values: the coroutine may outlive the caller's temporaries.
// `source` is the local address to connect from ("": the system's choice).
// A simulator of many machines on one host gives each its own: 10,000
// connections from one address to one port make the kernel search its
// ephemeral ports at every connect.
boost::asio::awaitable<Result<ClientResponse>> AsyncFetch(boost::asio::any_io_executor executor,
                                                          std::string method, std::string base_url,
                                                          std::string target, std::string body,
                                                          std::string token, Duration timeout,
                                                          std::string source = "");

}  // namespace anthill::http
