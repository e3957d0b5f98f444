// A request and its answer as plain structs: what routes, replies and their
// tests see instead of Beast's types. Free of Asio (no coroutines here), so
// code that only builds answers (reply.h, and the fuzzers built with clang,
// where Boost 1.74 offers no awaitable) need not include the server.
// Thread: plain values.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace anthill::http {

class BodyStream;  // server.h

struct Request {
  std::string method;                          // "GET"
  std::string target;                          // "/api/v1/deployments?limit=5"
  std::string path;                            // "/api/v1/deployments" (percent-decoded)
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;                            // empty when body_stream is set
  // Set for a body the server left unread for the handler to stream where
  // it wants (artifact uploads, see server.h), instead of `body`.
  std::shared_ptr<BodyStream> body_stream;
  std::string Header(const std::string& lower_name) const;
};

class EventSource;  // event_source.h

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::shared_ptr<EventSource> events;  // set: a stream that stays open (body sent first)
  // Set: the body is file_length bytes of this file from file_offset, read
  // from disk as they are sent (never held whole), and `body` is ignored.
  // The server answers 500 when the file has fewer bytes than that, and
  // sends only the head, with this Content-Length, to a HEAD request.
  std::filesystem::path file;
  int64_t file_offset = 0;
  int64_t file_length = 0;
};

}  // namespace anthill::http
