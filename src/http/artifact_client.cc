// HttpArtifactStore: Beast's HTTP/1.1 over Asio on the caller's executor.
// Request and answer heads go through Beast's serializer and parser; bodies
// go through one 64 KiB chunk at a time, each with its own deadline (a
// transfer of hundreds of MB may take minutes, a stalled peer may not).
#include "http/artifact_client.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "artifact/digest.h"
#include "base/strings.h"
#include "http/server.h"
#include "http/url.h"

namespace anthill::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using artifact::ArtifactRef;
using asio::ip::tcp;

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kIoTimeout = std::chrono::seconds(60);
constexpr size_t kChunk = 64 * 1024;
constexpr size_t kAnswerLimit = 1 << 20;  // an error or a JSON answer, never an archive

auto Redirect(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// A failure to reach the orchestrator or hear its answer: too slow
// (kTimedOut) or not there (kUnavailable: refused, reset, closed).
Status Unreached(const std::string& what, const boost::system::error_code& ec) {
  const StatusCode code =
      ec == beast::error::timeout ? StatusCode::kTimedOut : StatusCode::kUnavailable;
  return Status::Error(code, what + ": " + ec.message());
}

// The orchestrator's refusal as an error of the kind artifact_store.h
// promises, with its own words (the "error" of its JSON) in the message.
Status Refused(const std::string& what, int status, const std::string& body) {
  std::string said = std::string(Trim(body));
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    said = j["error"].get<std::string>();
  }
  if (said.size() > 300) said = said.substr(0, 300) + "...";
  // 422: the orchestrator's "checksum mismatch ..." or "size mismatch ...",
  // which callers read from the start of the message.
  if (status == 422) return Status::InvalidArgument(said + " (" + what + ")");
  StatusCode code = StatusCode::kInternal;
  if (status == 401 || status == 403) code = StatusCode::kUnauthenticated;
  if (status == 404) code = StatusCode::kNotFound;
  if (status == 502 || status == 503 || status == 504) code = StatusCode::kUnavailable;
  return Status::Error(code, what + ": answered " + std::to_string(status) + ": " + said);
}

// Connects `stream` to host:port within kConnectTimeout. `where` is taken
// by value: a coroutine starts after its caller's temporaries are gone.
asio::awaitable<Status> Connect(beast::tcp_stream& stream, const std::string& host,
                                const std::string& port, std::string where) {
  boost::system::error_code ec;
  tcp::resolver resolver(stream.get_executor());
  auto endpoints = co_await resolver.async_resolve(host, port, Redirect(ec));
  if (ec) co_return Unreached("cannot reach " + where, ec);
  stream.expires_after(kConnectTimeout);
  co_await stream.async_connect(endpoints, Redirect(ec));
  if (ec) co_return Unreached("cannot reach " + where, ec);
  co_return Status::Ok();
}

// The rest of an answer whose head `parser` has read, as text (at most
// kAnswerLimit): the words of a refusal.
asio::awaitable<std::string> ReadText(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                      bhttp::response_parser<bhttp::buffer_body>& parser) {
  std::string text;
  std::vector<char> chunk(kChunk);
  boost::system::error_code ec;
  while (!parser.is_done() && text.size() < kAnswerLimit) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    stream.expires_after(kIoTimeout);
    co_await bhttp::async_read(stream, buffer, parser, Redirect(ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    text.append(chunk.data(), chunk.size() - parser.get().body().size);
    if (ec) break;
  }
  co_return text;
}

// Removes a file on the way out unless told it was moved into place.
class RemoveUnlessKept {
 public:
  explicit RemoveUnlessKept(std::filesystem::path path) : path_(std::move(path)) {}
  ~RemoveUnlessKept() {
    std::error_code ignored;
    if (!kept_) std::filesystem::remove(path_, ignored);
  }
  RemoveUnlessKept(const RemoveUnlessKept&) = delete;
  RemoveUnlessKept& operator=(const RemoveUnlessKept&) = delete;
  void Keep() { kept_ = true; }

 private:
  std::filesystem::path path_;
  bool kept_ = false;
};

}  // namespace

// A download under way: the file being written, the digest of what it
// holds, how much that is, and the ETag that a resumed request must match.
struct HttpArtifactStore::Transfer {
  std::filesystem::path path;
  beast::file out;
  std::optional<artifact::Sha256> sha;
  int64_t got = 0;
  std::string etag;
};

Result<std::unique_ptr<HttpArtifactStore>> HttpArtifactStore::Open(std::string_view base_url,
                                                                   std::string token) {
  auto base = ParseBaseUrl(base_url);
  if (!base.ok()) return base.status();
  return std::unique_ptr<HttpArtifactStore>(
      new HttpArtifactStore(std::move(base->url), std::move(base->host), std::move(base->port),
                            std::move(base->host_header), std::move(token)));
}

HttpArtifactStore::HttpArtifactStore(std::string url, std::string host, std::string port,
                                     std::string host_header, std::string token)
    : url_(std::move(url)),
      host_(std::move(host)),
      port_(std::move(port)),
      host_header_(std::move(host_header)),
      token_(std::move(token)) {}

std::string HttpArtifactStore::Describe() const { return "orchestrator at " + url_; }

namespace {

template <class Body>
void SetCommon(bhttp::request<Body>& req, const std::string& host, const std::string& token) {
  req.set(bhttp::field::host, host);
  req.set(bhttp::field::user_agent, "anthill");
  if (!token.empty()) req.set(bhttp::field::authorization, "Bearer " + token);
}

std::string Target(const std::string& key) {
  // ValidKey allows only [A-Za-z0-9._-] and one '/': nothing to escape.
  return std::string(kStreamedPutPrefix) + key;
}

}  // namespace

asio::awaitable<Status> HttpArtifactStore::Put(ArtifactRef ref, std::filesystem::path file) {
  const std::string what = "uploading " + ref.key + " to the " + Describe();
  if (!artifact::ValidKey(ref.key)) {
    co_return Status::InvalidArgument("cannot upload '" + ref.key + "': not an artifact key");
  }
  beast::file in;
  beast::error_code file_ec;
  in.open(file.c_str(), beast::file_mode::scan, file_ec);
  const uint64_t size = file_ec ? 0 : in.size(file_ec);
  if (file_ec) {
    const std::string why = what + ": cannot read " + file.string() + ": " + file_ec.message();
    co_return file_ec == boost::system::errc::no_such_file_or_directory ? Status::NotFound(why)
                                                                        : Status::Internal(why);
  }
  if (static_cast<int64_t>(size) != ref.size) {
    co_return Status::InvalidArgument("size mismatch for " + file.string() + ": expected " +
                                      std::to_string(ref.size) + " bytes, got " +
                                      std::to_string(size));
  }

  const auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  asio::awaitable<Status> connecting = Connect(stream, host_, port_, "the " + Describe());
  const Status connected = co_await std::move(connecting);
  if (!connected.ok()) co_return connected;

  bhttp::request<bhttp::empty_body> req{bhttp::verb::put, Target(ref.key), 11};
  SetCommon(req, host_header_, token_);
  req.set(bhttp::field::content_type, "application/octet-stream");
  req.content_length(size);
  if (!ref.sha256.empty()) req.set("X-Anthill-Sha256", ref.sha256);
  if (size > 0) req.set(bhttp::field::expect, "100-continue");
  bhttp::request_serializer<bhttp::empty_body> serializer{req};
  boost::system::error_code ec;
  stream.expires_after(kIoTimeout);
  co_await bhttp::async_write_header(stream, serializer, Redirect(ec));
  if (ec) co_return Unreached(what, ec);

  // "100 Continue", or the refusal in its place.
  beast::flat_buffer buffer;
  if (size > 0) {
    bhttp::response_parser<bhttp::string_body> interim;
    interim.body_limit(kAnswerLimit);
    stream.expires_after(kIoTimeout);
    co_await bhttp::async_read(stream, buffer, interim, Redirect(ec));
    if (ec) co_return Unreached(what + ": no answer", ec);
    if (interim.get().result() != bhttp::status::continue_) {
      co_return Refused(what, interim.get().result_int(), interim.get().body());
    }
  }

  std::vector<char> chunk(kChunk);
  boost::system::error_code write_ec;
  for (uint64_t left = size; left > 0;) {
    const size_t n = in.read(chunk.data(), std::min<uint64_t>(left, chunk.size()), file_ec);
    if (file_ec || n == 0) {
      const std::string why = file_ec ? file_ec.message() : "it shrank while it was sent";
      co_return Status::Internal(what + ": cannot read " + file.string() + ": " + why);
    }
    stream.expires_after(kIoTimeout);
    co_await asio::async_write(stream, asio::buffer(chunk.data(), n), Redirect(write_ec));
    if (write_ec) break;
    left -= n;
  }
  // Read the answer even when a write failed: the orchestrator may have
  // refused midway (413) and closed, and its answer says why.
  bhttp::response_parser<bhttp::string_body> answer;
  answer.body_limit(kAnswerLimit);
  stream.expires_after(kIoTimeout);
  co_await bhttp::async_read(stream, buffer, answer, Redirect(ec));
  if (ec) co_return Unreached(what, write_ec ? write_ec : ec);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  const int status = answer.get().result_int();
  if (status != 200 && status != 201) co_return Refused(what, status, answer.get().body());
  // What the orchestrator stored, checked against what was sent.
  auto stored = nlohmann::json::parse(answer.get().body(), nullptr, false);
  if (!stored.is_object() || !stored.value("sha256", nlohmann::json()).is_string() ||
      !stored.value("size", nlohmann::json()).is_number_integer()) {
    co_return Status::Internal(what + ": unexpected answer: " + answer.get().body());
  }
  const artifact::Packed got{stored["sha256"].get<std::string>(), stored["size"].get<int64_t>()};
  // Without a digest to send, the orchestrator's is taken as it is.
  const std::string& expected = ref.sha256.empty() ? got.sha256 : ref.sha256;
  co_return artifact::Verify(ref.key + " as the " + Describe() + " stored it", got, expected,
                             ref.size);
}

asio::awaitable<Status> HttpArtifactStore::Receive(const ArtifactRef& ref, Transfer& t, bool* cut) {
  *cut = false;
  const std::string what = "downloading " + ref.key + " from the " + Describe();
  const auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  asio::awaitable<Status> connecting = Connect(stream, host_, port_, "the " + Describe());
  const Status connected = co_await std::move(connecting);
  if (!connected.ok()) co_return connected;

  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, Target(ref.key), 11};
  SetCommon(req, host_header_, token_);
  const int64_t from = t.got;
  if (from > 0) {
    req.set(bhttp::field::range, "bytes=" + std::to_string(from) + "-");
    if (!t.etag.empty()) req.set(bhttp::field::if_range, t.etag);
  }
  boost::system::error_code ec;
  stream.expires_after(kIoTimeout);
  co_await bhttp::async_write(stream, req, Redirect(ec));
  if (ec) co_return Unreached(what, ec);

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  // Checked against ref.size below, as it arrives. (A number, not
  // boost::none: Beast 1.74 compares Content-Length with the optional itself.)
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  stream.expires_after(kIoTimeout);
  co_await bhttp::async_read_header(stream, buffer, parser, Redirect(ec));
  if (ec) co_return Unreached(what + ": no answer", ec);
  const int status = parser.get().result_int();
  if (status != 200 && status != 206) {
    asio::awaitable<std::string> reading = ReadText(stream, buffer, parser);
    const std::string text = co_await std::move(reading);
    co_return Refused(what, status, text);
  }
  if (status == 206) {
    const std::string expected = "bytes " + std::to_string(from) + "-";
    const std::string range(parser.get()[bhttp::field::content_range]);
    if (from == 0 || !StartsWith(range, expected)) {
      co_return Status::Internal(what + ": asked for bytes from " + std::to_string(from) +
                                 ", got '" + range + "'");
    }
  } else if (from > 0) {
    // The whole file again (the orchestrator's bytes changed, or it does
    // not do ranges): start over.
    beast::error_code file_ec;
    t.out.close(file_ec);
    t.out.open(t.path.c_str(), beast::file_mode::write, file_ec);
    if (file_ec) {
      co_return Status::Internal(what + ": cannot write " + t.path.string() + ": " +
                                 file_ec.message());
    }
    t.sha.emplace();
    t.got = 0;
  }
  t.etag = std::string(parser.get()[bhttp::field::etag]);
  const auto length = parser.content_length();
  if (length && t.got + static_cast<int64_t>(*length) != ref.size) {
    co_return Status::InvalidArgument("size mismatch for " + ref.key + " from the " + Describe() +
                                      ": expected " + std::to_string(ref.size) + " bytes, got " +
                                      std::to_string(t.got + *length));
  }

  std::vector<char> chunk(kChunk);
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    stream.expires_after(kIoTimeout);
    co_await bhttp::async_read(stream, buffer, parser, Redirect(ec));
    if (ec == bhttp::error::need_buffer) ec = {};
    // Bytes that came before an error are kept: a resume goes on after them.
    const size_t n = chunk.size() - parser.get().body().size;
    if (t.got + static_cast<int64_t>(n) > ref.size) {
      co_return Status::InvalidArgument("size mismatch for " + ref.key + " from the " + Describe() +
                                        ": expected " + std::to_string(ref.size) +
                                        " bytes, got more");
    }
    beast::error_code file_ec;
    t.out.write(chunk.data(), n, file_ec);
    if (file_ec) {
      co_return Status::Internal(what + ": cannot write " + t.path.string() + ": " +
                                 file_ec.message());
    }
    t.sha->Update(chunk.data(), n);
    t.got += static_cast<int64_t>(n);
    if (ec) {
      *cut = t.got > from;
      co_return Unreached(what + ": cut off after " + std::to_string(t.got) + " bytes", ec);
    }
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return Status::Ok();
}

asio::awaitable<Status> HttpArtifactStore::Get(ArtifactRef ref, std::filesystem::path dest) {
  if (!artifact::ValidKey(ref.key)) {
    co_return Status::InvalidArgument("cannot download '" + ref.key + "': not an artifact key");
  }
  Transfer t;
  t.path = artifact::TempSibling(dest);
  beast::error_code file_ec;
  t.out.open(t.path.c_str(), beast::file_mode::write_new, file_ec);
  if (file_ec) {
    co_return Status::Internal("downloading " + ref.key + ": cannot create " + t.path.string() +
                               ": " + file_ec.message());
  }
  RemoveUnlessKept temporary(t.path);
  t.sha.emplace();
  bool cut = false;
  asio::awaitable<Status> receiving = Receive(ref, t, &cut);
  Status received = co_await std::move(receiving);
  if (!received.ok() && cut) {  // once: a second cut is no accident
    asio::awaitable<Status> resuming = Receive(ref, t, &cut);
    received = co_await std::move(resuming);
  }
  if (!received.ok()) co_return received;
  t.out.close(file_ec);
  if (file_ec) {
    co_return Status::Internal("downloading " + ref.key + ": cannot write " + t.path.string() +
                               ": " + file_ec.message());
  }
  const artifact::Packed got{t.sha->HexDigest(), t.got};
  const Status verified =
      artifact::Verify(ref.key + " from the " + Describe(), got, ref.sha256, ref.size);
  if (!verified.ok()) co_return verified;
  std::error_code ec;
  std::filesystem::rename(t.path, dest, ec);
  if (ec) {
    co_return Status::Internal("downloading " + ref.key + ": cannot rename " + t.path.string() +
                               " to " + dest.string() + ": " + ec.message());
  }
  temporary.Keep();
  co_return Status::Ok();
}

asio::awaitable<Status> HttpArtifactStore::Remove(ArtifactRef ref) {
  const std::string what = "removing " + ref.key + " from the " + Describe();
  if (!artifact::ValidKey(ref.key)) {
    co_return Status::InvalidArgument("cannot remove '" + ref.key + "': not an artifact key");
  }
  const auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  asio::awaitable<Status> connecting = Connect(stream, host_, port_, "the " + Describe());
  const Status connected = co_await std::move(connecting);
  if (!connected.ok()) co_return connected;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::delete_, Target(ref.key), 11};
  SetCommon(req, host_header_, token_);
  // The API takes calls that change something only as JSON, even bodiless
  // ones (request_guard.h: other sites' pages cannot send it).
  req.set(bhttp::field::content_type, "application/json");
  req.content_length(0);
  boost::system::error_code ec;
  stream.expires_after(kIoTimeout);
  co_await bhttp::async_write(stream, req, Redirect(ec));
  if (ec) co_return Unreached(what, ec);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> answer;
  answer.body_limit(kAnswerLimit);
  stream.expires_after(kIoTimeout);
  co_await bhttp::async_read(stream, buffer, answer, Redirect(ec));
  if (ec) co_return Unreached(what + ": no answer", ec);
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  const int status = answer.get().result_int();
  if (status == 200 || status == 204 || status == 404) co_return Status::Ok();
  co_return Refused(what, status, answer.get().body());
}

}  // namespace anthill::http
