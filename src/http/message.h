// A request and its answer as plain structs: what routes, replies and their
// tests see instead of Beast's types. Free of Asio (no coroutines here), so
// code that only builds answers (reply.h, and the fuzzers built with clang,
// where Boost 1.74 offers no awaitable) need not include the server.
// Thread: plain values.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace anthill::http {

struct Request {
  std::string method;                          // "GET"
  std::string target;                          // "/api/v1/deployments?limit=5"
  std::string path;                            // "/api/v1/deployments" (percent-decoded)
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

class EventSource;  // event_source.h

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::shared_ptr<EventSource> events;  // set: a stream that stays open (body sent first)
};

}  // namespace anthill::http
