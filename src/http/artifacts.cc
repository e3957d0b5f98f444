// The artifact routes: PUT streams to the store's tmp/ and adopts the file,
// GET and HEAD answer with the blob file itself (Response::file), so an
// archive of hundreds of MB never sits in the daemon's memory.
#include "http/artifacts.h"

#include <charconv>
#include <random>

#include "artifact/blocking.h"
#include "artifact/digest.h"
#include "artifact/local_store.h"
#include "base/strings.h"
#include "http/reply.h"
#include "http/server.h"

namespace anthill::http {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::optional<int64_t> ParseCount(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Whether an If-None-Match value ("\"<hex>\"", a list of them, "*") names
// this entity tag. Weak tags (W/"...") count: the bytes under a sha256 tag
// never change.
bool MatchesETag(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view one = Trim(header.substr(0, comma));
    if (StartsWith(one, "W/")) one.remove_prefix(2);
    if (one == "*" || one == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

// A fresh name in the store's tmp/ for one upload. Random, not a counter:
// the directory may be shared with the store's own copies and outlive a
// restart that left a file behind.
std::filesystem::path UploadName(const std::filesystem::path& dir) {
  static std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "upload-";
  uint64_t bits = random();
  for (int i = 0; i < 16; ++i, bits >>= 4) name += kHex[bits & 0xf];
  return dir / name;
}

std::string ContentType(std::string_view key) {
  if (key.size() > 4 && key.substr(key.size() - 4) == ".zst") return "application/zstd";
  if (key.size() > 3 && key.substr(key.size() - 3) == ".gz") return "application/gzip";
  return "application/octet-stream";
}

asio::awaitable<Response> Upload(const Request& req, const std::string& key,
                                 artifact::LocalArtifactStore* store) {
  std::optional<std::string> expected;
  if (auto it = req.headers.find("x-anthill-sha256"); it != req.headers.end()) {
    expected = AsciiLower(Trim(it->second));
    if (!artifact::IsSha256Hex(*expected)) {
      co_return ErrorResponse(400,
                              "X-Anthill-Sha256 must be 64 hex digits, not '" + it->second + "'");
    }
  }
  if (!req.body_stream) co_return ErrorResponse(500, "the upload's body was not streamed");
  const std::filesystem::path tmp = UploadName(store->TempDir());
  asio::awaitable<Result<int64_t>> saving = req.body_stream->SaveTo(tmp);
  const Result<int64_t> saved = co_await std::move(saving);
  // The server answers for a body it could not read (413, 400...).
  if (!saved.ok()) co_return ErrorResponse(saved.status());
  // Hashing hundreds of MB takes seconds: on the blocking pool, not the loop.
  auto adopt = [store, key, tmp, expected] { return store->Adopt(key, tmp, expected); };
  asio::awaitable<Result<artifact::ArtifactRef>> adopting = artifact::RunBlocking(std::move(adopt));
  const Result<artifact::ArtifactRef> ref = co_await std::move(adopting);
  if (!ref.ok()) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);  // Adopt consumes it; this is in case it did not
    // The bytes are not what the client said they are: the request was
    // well-formed (not 400) but cannot be kept.
    if (ref.code() == StatusCode::kInvalidArgument) co_return ErrorResponse(422, ref.error());
    co_return ErrorResponse(ref.status());
  }
  co_return JsonResponse(201, {{"key", ref->key}, {"sha256", ref->sha256}, {"size", ref->size}});
}

Response Download(const Request& req, const artifact::ArtifactRef& ref,
                  const std::filesystem::path& blob) {
  std::error_code ec;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(blob, ec));
  if (ec) return ErrorResponse(500, "artifact " + ref.key + ": its bytes are missing");
  const std::string etag = "\"" + ref.sha256 + "\"";
  Response r;
  r.content_type = ContentType(ref.key);
  r.headers = {{"ETag", etag}, {"X-Anthill-Sha256", ref.sha256}, {"Accept-Ranges", "bytes"}};
  if (MatchesETag(req.Header("if-none-match"), etag)) {
    r.status = 304;
    return r;
  }
  r.file = blob;
  r.file_length = size;
  const std::string range = req.Header("range");
  // A Range with If-Range of another version would splice two versions:
  // the whole file instead.
  const std::string if_range = req.Header("if-range");
  if (range.empty() || (!if_range.empty() && if_range != etag)) return r;
  bool unsatisfiable = false;
  const std::optional<ByteRange> part = ParseRange(range, size, &unsatisfiable);
  if (unsatisfiable) {
    Response refused = ErrorResponse(416, "range '" + range + "' is not within the " +
                                              std::to_string(size) + " bytes of " + ref.key);
    refused.headers = {{"Content-Range", "bytes */" + std::to_string(size)}};
    return refused;
  }
  if (!part) return r;
  r.status = 206;
  r.file_offset = part->offset;
  r.file_length = part->length;
  r.headers.push_back({"Content-Range", "bytes " + std::to_string(part->offset) + "-" +
                                            std::to_string(part->offset + part->length - 1) + "/" +
                                            std::to_string(size)});
  return r;
}

}  // namespace

std::optional<ByteRange> ParseRange(std::string_view header, int64_t size, bool* unsatisfiable) {
  *unsatisfiable = false;
  std::string_view spec = Trim(header);
  if (!StartsWith(spec, "bytes=")) return std::nullopt;
  spec.remove_prefix(6);
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view first = Trim(spec.substr(0, dash)), last = Trim(spec.substr(dash + 1));
  if (first.empty()) {  // "-n": the last n bytes
    const std::optional<int64_t> n = ParseCount(last);
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) {
      *unsatisfiable = true;
      return std::nullopt;
    }
    const int64_t length = std::min(*n, size);
    return ByteRange{size - length, length};
  }
  const std::optional<int64_t> from = ParseCount(first);
  const std::optional<int64_t> to =
      last.empty() ? std::optional<int64_t>(size - 1) : ParseCount(last);
  if (!from || !to) return std::nullopt;
  if (*from >= size) {
    *unsatisfiable = true;
    return std::nullopt;
  }
  if (*to < *from) return std::nullopt;
  return ByteRange{*from, std::min(*to, size - 1) - *from + 1};
}

asio::awaitable<Response> ServeArtifact(Request req, artifact::LocalArtifactStore* store) {
  if (!store) co_return ErrorResponse(404, "this anthill keeps no artifacts");
  const std::string key = req.path.substr(kStreamedPutPrefix.size());
  if (!artifact::ValidKey(key)) {
    co_return ErrorResponse(400, "bad artifact key '" + key +
                                     "': want <project>/<file>.tar.zst (or .tar.gz), of letters, "
                                     "digits, '.', '_' and '-'");
  }
  if (req.method == "PUT") {
    asio::awaitable<Response> uploading = Upload(req, key, store);
    co_return co_await std::move(uploading);
  }
  if (req.method != "GET" && req.method != "HEAD" && req.method != "DELETE") {
    Response r = ErrorResponse(405, req.method + " is not allowed on " + req.path);
    r.headers.push_back({"Allow", "GET, HEAD, PUT, DELETE"});
    co_return r;
  }
  const std::optional<artifact::ArtifactRef> ref = store->Find(key);
  if (!ref) co_return ErrorResponse(404, "no artifact '" + key + "'");
  if (req.method == "DELETE") {
    const artifact::ArtifactRef named = *ref;
    asio::awaitable<Status> removing = store->Remove(named);
    const Status removed = co_await std::move(removing);
    if (!removed.ok()) co_return ErrorResponse(removed);
    co_return Response{204, "application/json", "", {}};
  }
  co_return Download(req, *ref, store->BlobPath(*ref));
}

}  // namespace anthill::http
