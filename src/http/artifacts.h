// The artifact routes of API v1, over the orchestrator's LocalArtifactStore:
//
//   PUT    /api/v1/artifacts/<project>/<file>  the body is the archive,
//          streamed to disk (never held in memory; up to
//          ServerLimits::upload_limit), then hashed and taken into the store.
//          X-Anthill-Sha256, when sent, must be the body's SHA-256 (else 422
//          "checksum mismatch ...", nothing kept). 201 {key, sha256, size}.
//   GET    the archive, read from disk as it is sent, with ETag "<sha256>",
//          X-Anthill-Sha256, Accept-Ranges: bytes; If-None-Match -> 304; one
//          Range (bytes=a-b, a-, -n) -> 206 with Content-Range, or 416 when
//          it is past the end; If-Range with another ETag -> the whole 200.
//   HEAD   the same head, no body.
//   DELETE removes the key (and its bytes when no other key names them): 204.
//
// A key that fails artifact::ValidKey is 400, one not stored 404. The token
// check and the request guard are the API's (api.cc), made before these.
// Thread: the io_context thread; hashing runs on the artifact module's
// blocking pool.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/message.h"

namespace anthill::artifact {
class LocalArtifactStore;
}

namespace anthill::http {

// Answers a request whose path starts with kStreamedPutPrefix. store null:
// 404 "this anthill keeps no artifacts".
// REQUIRES: the caller has checked the token; store outlives the answer.
boost::asio::awaitable<Response> ServeArtifact(Request req, artifact::LocalArtifactStore* store);

// A Range header against a file of `size` bytes: the part asked for, or
// nullopt when the header is absent or is not one "bytes=" range (then the
// whole file is sent, as RFC 9110 allows). `unsatisfiable` is set (and the
// result empty) when it is one range that starts past the end or asks for
// the last 0 bytes.
struct ByteRange {
  int64_t offset = 0;
  int64_t length = 0;
};
std::optional<ByteRange> ParseRange(std::string_view header, int64_t size, bool* unsatisfiable);

}  // namespace anthill::http
