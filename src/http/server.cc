// The HTTP server on Boost.Beast: one coroutine per connection on the
// io_context thread, requests handed to the Handler as plain structs and its
// answer awaited there, so a handler waiting on the record holds up only its
// own connection.
#include "http/server.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/file.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <optional>
#include <set>
#include <vector>

#include "base/host_port.h"
#include "base/strings.h"
#include "http/reply.h"
#include "http/url.h"

namespace anthill::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kStreamKeepalive = std::chrono::seconds(15);
// After accept() fails for want of descriptors (or memory) the listening
// socket stays readable: retrying at once would spin a core. The pause lets
// connections close and give their descriptors back.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// A refused request's unread rest is drained this long, at most this much,
// so that closing does not reset the connection before the answer is read.
constexpr auto kDrainTime = std::chrono::seconds(2);
constexpr size_t kDrainBytes = 8 << 20;
// Streamed bodies and files pass through a buffer of this size, each chunk
// with its own deadline: a transfer of hundreds of MB outlasts kIdleTimeout,
// a peer that stops does not.
constexpr size_t kChunk = 64 * 1024;

// What every answer carries: its status, Server, Content-Type and the route's
// own headers.
template <class Body>
bhttp::response<Body> Head(const Response& r) {
  bhttp::response<Body> res{static_cast<bhttp::status>(r.status), 11};
  res.set(bhttp::field::server, "anthill");
  res.set(bhttp::field::content_type, r.content_type);
  for (const auto& [k, v] : r.headers) res.set(k, v);
  return res;
}

std::string Size(size_t bytes) {
  if (bytes % (size_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// The answer to a request that could not be read, or none when there is
// nobody to answer (the client left, timed out, or the server stops).
std::optional<Response> RefusalFor(const boost::system::error_code& ec,
                                   const ServerLimits& limits) {
  static const auto& kHttp = bhttp::make_error_code(bhttp::error::bad_method).category();
  if (ec.category() != kHttp) return std::nullopt;
  switch (static_cast<bhttp::error>(ec.value())) {
    case bhttp::error::end_of_stream:
    case bhttp::error::partial_message:
    case bhttp::error::need_more:
    case bhttp::error::need_buffer:
    case bhttp::error::short_read:
      return std::nullopt;
    case bhttp::error::body_limit:
      return ErrorResponse(413, "request body over " + Size(limits.body_limit));
    case bhttp::error::header_limit:
    case bhttp::error::buffer_overflow:
      return ErrorResponse(431, "request headers over " + Size(limits.header_limit));
    default:
      return ErrorResponse(400, "malformed request: " + ec.message());
  }
}

// A file or socket error that means the peer went away (as opposed to one of
// ours, such as a full disk): there is nobody to answer.
bool PeerLeft(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == beast::error::timeout ||
         ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == bhttp::error::short_read;
}

size_t DefaultMaxConnections() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 512;
  const size_t soft = rl.rlim_cur == RLIM_INFINITY ? size_t{1} << 20 : rl.rlim_cur;
  return soft > 2048 ? soft - 1024 : std::max<size_t>(soft / 2, 1);
}

}  // namespace

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

struct Server::Impl {
  asio::io_context& io;
  Handler handler;
  ServerLimits limits;
  tcp::acceptor acceptor;
  asio::steady_timer accept_backoff;
  std::set<std::shared_ptr<beast::tcp_stream>> connections;
  std::set<std::shared_ptr<asio::steady_timer>> stream_timers;  // cancelled by Stop()
  bool stopped = false;
  // Written on the io thread, read by tests from theirs.
  std::atomic<size_t> open_connections{0};
  std::atomic<size_t> body_bytes{0};
  std::atomic<uint64_t> accept_failures{0};

  Impl(asio::io_context& io_, Handler h, ServerLimits l)
      : io(io_), handler(std::move(h)), limits(l), acceptor(io_), accept_backoff(io_) {
    if (limits.max_connections == 0) limits.max_connections = DefaultMaxConnections();
  }

  // Bytes of body_budget a request holds while it is read and handled.
  class BodyReservation {
   public:
    explicit BodyReservation(Impl* impl) : impl_(impl) {}
    ~BodyReservation() { impl_->body_bytes -= bytes_; }
    BodyReservation(const BodyReservation&) = delete;
    BodyReservation& operator=(const BodyReservation&) = delete;
    // False, taking nothing, when the budget has not that much left.
    bool Take(size_t bytes) {
      if (bytes > impl_->limits.body_budget - impl_->body_bytes) return false;
      impl_->body_bytes += bytes;
      bytes_ += bytes;
      return true;
    }

   private:
    Impl* impl_;
    size_t bytes_ = 0;
  };

  asio::awaitable<void> Accept() {
    bool pausing = false;
    while (!stopped) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (stopped || ec == asio::error::operation_aborted) co_return;
      if (ec == asio::error::connection_aborted) continue;  // the client gave up: nothing to see
      if (ec) {  // EMFILE, ENFILE, ENOBUFS, ENOMEM: pause (see kAcceptBackoff)
        ++accept_failures;
        if (!pausing) {
          spdlog::warn("http: cannot accept connections: {} ({} open); retrying every {} ms",
                       ec.message(), connections.size(), kAcceptBackoff.count());
        }
        pausing = true;
        accept_backoff.expires_after(kAcceptBackoff);
        co_await accept_backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      if (pausing) {
        spdlog::info("http: accepting connections again ({} open)", connections.size());
        pausing = false;
      }
      if (connections.size() >= limits.max_connections) {
        Turn(socket);
        continue;
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      connections.insert(stream);
      open_connections = connections.size();
      asio::co_spawn(io, Serve(stream), asio::detached);
    }
  }

  // A connection over max_connections: a 503 in one non-blocking write (a
  // new socket's send buffer is empty) and closed, with nothing read and
  // nothing kept. The client may see the reset instead of the 503.
  void Turn(tcp::socket& socket) {
    static const std::string kBusy = [] {
      const std::string body = ErrorResponse(503, "too many connections; try again shortly").body;
      return "HTTP/1.1 503 Service Unavailable\r\nServer: anthill\r\nContent-Type: "
             "application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body;
    }();
    boost::system::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(asio::buffer(kBusy), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  asio::awaitable<void> Serve(std::shared_ptr<beast::tcp_stream> stream) {
    // Bounded: the parser takes the body out of it as it comes, so only
    // headers (header_limit) and a little read-ahead ever sit here.
    beast::flat_buffer buffer(limits.header_limit + 16 * 1024);
    boost::system::error_code ec;
    while (!stopped) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.header_limit));
      // Unbounded while the head is read: Beast would refuse a Content-Length
      // over the bound then, and which bound applies (body_limit or
      // upload_limit) is known only once the path is. Both are checked below.
      // (A number, not boost::none: Beast 1.74 compares Content-Length with
      // the optional itself, and anything is greater than none.)
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      stream->expires_after(kIdleTimeout);
      co_await bhttp::async_read_header(*stream, buffer, parser,
                                        asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        const std::optional<Response> refusal = RefusalFor(ec, limits);
        if (refusal) co_await Refuse(*stream, *refusal);
        break;
      }
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      SplitTarget(req.target, &req.path, &req.query);
      for (const auto& field : msg) {
        std::string name = AsciiLower(std::string(field.name_string()));
        req.headers[name] = std::string(field.value());
      }
      const bool keep_alive = msg.keep_alive();
      const bool head_only = msg.method() == bhttp::verb::head;
      if (msg.method() == bhttp::verb::put && StartsWith(req.path, kStreamedPutPrefix)) {
        const bool more = co_await ServeStreamed(*stream, buffer, parser, req, keep_alive);
        if (!more) break;
        continue;
      }
      // The body is read into memory (Beast reserves Content-Length at once)
      // only once it fits the budget of all connections.
      BodyReservation reservation(this);
      if (!parser.is_done()) {
        const auto length = parser.content_length();
        const size_t wanted = length ? static_cast<size_t>(*length) : limits.body_limit;
        if (length && *length > limits.body_limit) {
          const Response too_large = *RefusalFor(bhttp::error::body_limit, limits);
          co_await Refuse(*stream, too_large);
          break;
        }
        parser.body_limit(limits.body_limit);
        if (!reservation.Take(wanted)) {
          Response busy = ErrorResponse(503, "too many requests in flight; try again shortly");
          busy.headers.push_back({"Retry-After", "1"});
          co_await Refuse(*stream, busy);
          break;
        }
        co_await bhttp::async_read(*stream, buffer, parser,
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
          const std::optional<Response> refusal = RefusalFor(ec, limits);
          if (refusal) co_await Refuse(*stream, *refusal);
          break;
        }
      }
      req.body = std::move(msg.body());
      // What Request copied is let go while the handler runs (a long poll
      // waits 30 s): Beast's fields, and the read buffer unless it holds
      // the start of a pipelined request.
      msg.clear();
      if (buffer.size() == 0) buffer.shrink_to_fit();
      // Handle's work inline, not in a frame of its own: a long poll sits
      // here for up to 30 s, and an orchestrator holds one per agent.
      Response res;
      try {
        asio::awaitable<Response> handling = handler(std::move(req));
        res = co_await std::move(handling);
      } catch (const std::exception& e) {
        res = ErrorResponse(500, "internal error");
      }
      if (res.events) {
        co_await Stream(*stream, res, ec);
        break;
      }
      if (!res.file.empty()) {
        co_await WriteFile(*stream, res, keep_alive, head_only, ec);
      } else {
        co_await Write(*stream, res, keep_alive, ec);
      }
      if (ec || !keep_alive) break;
    }
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->close();
    connections.erase(stream);
    open_connections = connections.size();
  }

  // The handler's answer to req; an exception it lets out is a 500.
  asio::awaitable<Response> Handle(Request req) {
    Response res;
    try {
      // Made before the co_await, not inside it: GCC 12 mishandles
      // temporaries in a co_await expression (the Request argument here).
      asio::awaitable<Response> reply = handler(std::move(req));
      res = co_await std::move(reply);
    } catch (const std::exception& e) {
      res = ErrorResponse(500, "internal error");
    }
    co_return res;
  }

  class StreamedBody;

  // A PUT under kStreamedPutPrefix: the handler runs with the body unread
  // and takes it through req.body_stream (a StreamedBody). Returns whether
  // the connection may serve another request.
  asio::awaitable<bool> ServeStreamed(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                      bhttp::request_parser<bhttp::string_body>& head, Request& req,
                                      bool keep_alive);

  // Answers a request that will not be served, then closes. Closing with
  // the rest of the request unread would reset the connection and could
  // destroy the answer before the client reads it: stop sending, then drain
  // what the client still sends, briefly.
  asio::awaitable<void> Refuse(beast::tcp_stream& stream, const Response& r) {
    boost::system::error_code ec;
    co_await Write(stream, r, false, ec);
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.expires_after(kDrainTime);
    std::array<char, 16384> sink;
    for (size_t drained = 0; !ec && !stopped && drained < kDrainBytes;) {
      drained += co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // A text/event-stream response: headers without a length (the body ends
  // when the connection does), then the source's frames as they come.
  asio::awaitable<void> Stream(beast::tcp_stream& stream, const Response& r,
                               boost::system::error_code& ec) {
    auto head = Head<bhttp::empty_body>(r);
    head.keep_alive(false);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(kIdleTimeout);
    co_await bhttp::async_write_header(stream, serializer,
                                       asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    stream.expires_never();  // a stream is idle by nature; writes notice a client that left

    auto timer = std::make_shared<asio::steady_timer>(io);
    auto woken = std::make_shared<bool>(false);
    stream_timers.insert(timer);
    // The source may outlive this loop (the route keeps it until it is
    // dropped below), so the wake callback holds the timer, not the frame.
    r.events->set_wake([timer, woken] {
      *woken = true;
      timer->cancel();
    });
    std::string frames = r.body;
    while (!stopped) {
      if (!frames.empty()) {
        stream.expires_after(kIdleTimeout);  // a client that stops reading is dropped
        co_await asio::async_write(stream, asio::buffer(frames),
                                   asio::redirect_error(asio::use_awaitable, ec));
        stream.expires_never();
        if (ec) break;
      }
      bool keepalive_due = false;
      if (!*woken) {
        timer->expires_after(kStreamKeepalive);
        boost::system::error_code wait_ec;
        co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
        keepalive_due = !wait_ec;
      }
      if (stopped) break;
      *woken = false;
      frames = co_await r.events->Next();
      if (frames.empty() && keepalive_due) frames = ": keepalive\n\n";
    }
    r.events->set_wake(nullptr);
    stream_timers.erase(timer);
  }

  static asio::awaitable<void> Write(beast::tcp_stream& stream, const Response& r, bool keep_alive,
                                     boost::system::error_code& ec) {
    auto res = Head<bhttp::string_body>(r);
    res.keep_alive(keep_alive);
    res.body() = r.body;
    res.prepare_payload();
    co_await bhttp::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
  }

  // An answer whose body is a part of a file (Response::file): the head,
  // then the bytes as they are read, a chunk at a time (an artifact is not
  // held in memory). A file that cannot give the bytes promised is a 500
  // before the head, or a cut connection after it (ec set).
  static asio::awaitable<void> WriteFile(beast::tcp_stream& stream, const Response& r,
                                         bool keep_alive, bool head_only,
                                         boost::system::error_code& ec) {
    beast::file file;
    beast::error_code file_ec;
    file.open(r.file.c_str(), beast::file_mode::scan, file_ec);
    const uint64_t size = file_ec ? 0 : file.size(file_ec);
    const auto offset = static_cast<uint64_t>(r.file_offset);
    const auto length = static_cast<uint64_t>(r.file_length);
    if (!file_ec && (r.file_offset < 0 || r.file_length < 0 || size < offset + length)) {
      file_ec = boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
    }
    if (!file_ec) file.seek(offset, file_ec);
    if (file_ec) {
      spdlog::warn("http: cannot send bytes {}+{} of {}: {}", r.file_offset, r.file_length,
                   r.file.string(), file_ec.message());
      const Response failed = ErrorResponse(500, "cannot read the file to send");
      co_await Write(stream, failed, keep_alive, ec);
      co_return;
    }
    auto head = Head<bhttp::empty_body>(r);
    head.keep_alive(keep_alive);
    head.content_length(length);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    stream.expires_after(kIdleTimeout);
    co_await bhttp::async_write_header(stream, serializer,
                                       asio::redirect_error(asio::use_awaitable, ec));
    if (ec || head_only) co_return;
    std::vector<char> chunk(kChunk);
    for (uint64_t left = length; left > 0;) {
      const size_t n = file.read(chunk.data(), std::min<uint64_t>(left, chunk.size()), file_ec);
      if (file_ec || n == 0) {  // shrunk under us: the head promised more, so the connection ends
        ec = file_ec ? file_ec : asio::error::make_error_code(asio::error::eof);
        co_return;
      }
      stream.expires_after(kIdleTimeout);
      co_await asio::async_write(stream, asio::buffer(chunk.data(), n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      left -= n;
    }
  }
};

// The body of a PUT under kStreamedPutPrefix, left unread until the handler
// saves it (BodyStream). It points into Serve's frame (the stream, its
// read-ahead buffer, the parser that read the head), which outlives the
// handler; Detach() cuts it off once the handler has answered.
class Server::Impl::StreamedBody : public BodyStream {
 public:
  StreamedBody(Impl* impl, beast::tcp_stream& stream, beast::flat_buffer& buffer,
               bhttp::request_parser<bhttp::string_body>& head, bool expect_continue)
      : impl_(impl),
        stream_(&stream),
        buffer_(&buffer),
        head_(&head),
        expect_continue_(expect_continue),
        // A PUT without a body (no Content-Length, or 0) has nothing to read.
        state_(head.is_done() ? State::kRead : State::kUnread) {}

  enum class State {
    kUnread,  // the handler has not asked for it: answer, then close
    kRead,    // taken whole: the connection may go on
    kFailed,  // could not be taken: refusal() is the answer, if anybody is there
  };
  State state() const { return state_; }
  const std::optional<Response>& refusal() const { return refusal_; }
  void Detach() { impl_ = nullptr; }

  asio::awaitable<Result<int64_t>> SaveTo(std::filesystem::path file) override {
    if (!impl_ || saving_) co_return Status::Internal("the request body is no longer readable");
    saving_ = true;
    const uint64_t limit = impl_->limits.upload_limit;
    const auto length = head_->content_length();
    if (length && *length > limit) co_return Fail(TooLarge(limit), "over the limit");
    beast::file out;
    beast::error_code file_ec;
    out.open(file.c_str(), beast::file_mode::write_new, file_ec);
    if (file_ec) co_return Fail(CannotStore(file, file_ec), file_ec.message());
    created_ = file;
    if (state_ == State::kRead) {
      out.close(file_ec);
      if (file_ec) co_return Fail(CannotStore(file, file_ec), file_ec.message());
      co_return int64_t{0};
    }
    boost::system::error_code ec;
    stream_->expires_after(kIdleTimeout);
    if (expect_continue_) {
      // The client waits for this before it sends a byte of the body: the
      // handler has accepted the request by asking for the body.
      static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(*stream_, asio::buffer(kContinue),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return Fail(std::nullopt, ec.message());
    }
    // The same parser, now giving the body a chunk at a time to this loop.
    bhttp::request_parser<bhttp::buffer_body> parser{std::move(*head_)};
    parser.body_limit(limit);
    std::vector<char> chunk(kChunk);
    int64_t written = 0;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      stream_->expires_after(kIdleTimeout);
      co_await bhttp::async_read(*stream_, *buffer_, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::need_buffer) ec = {};  // the chunk is full: not an error
      if (ec == bhttp::error::body_limit) co_return Fail(TooLarge(limit), "over the limit");
      if (ec) {
        std::optional<Response> refusal;
        if (!PeerLeft(ec)) refusal = RefusalFor(ec, impl_->limits);
        co_return Fail(refusal, ec.message());
      }
      const size_t n = chunk.size() - parser.get().body().size;
      out.write(chunk.data(), n, file_ec);
      if (file_ec) co_return Fail(CannotStore(file, file_ec), file_ec.message());
      written += static_cast<int64_t>(n);
    }
    out.close(file_ec);
    if (file_ec) co_return Fail(CannotStore(file, file_ec), file_ec.message());
    state_ = State::kRead;
    co_return written;
  }

 private:
  static Response TooLarge(uint64_t limit) {
    return ErrorResponse(413, "request body over " + Size(static_cast<size_t>(limit)));
  }
  // Where the upload goes is the server's business, not the client's: the
  // path goes to the log only.
  static Response CannotStore(const std::filesystem::path& file, const beast::error_code& ec) {
    spdlog::warn("http: cannot store an upload in {}: {}", file.string(), ec.message());
    const bool full =
        ec == boost::system::errc::no_space_on_device || ec == boost::system::errc::file_too_large;
    return ErrorResponse(full ? 507 : 500, "cannot store the upload: " + ec.message());
  }
  // Ends the body: removes the file written (if it came to that) and keeps
  // the refusal the server will send (none when the client left).
  Status Fail(std::optional<Response> refusal, const std::string& why) {
    std::error_code ignored;
    if (!created_.empty()) std::filesystem::remove(created_, ignored);
    state_ = State::kFailed;
    refusal_ = std::move(refusal);
    const int status = refusal_ ? refusal_->status : 499;
    const std::string message = "the upload was not received: " + why;
    if (status == 413) return Status::InvalidArgument(message);
    if (status == 499) return Status::Unavailable(message);
    return Status::Internal(message);
  }

  Impl* impl_;
  beast::tcp_stream* stream_;
  beast::flat_buffer* buffer_;
  bhttp::request_parser<bhttp::string_body>* head_;
  bool expect_continue_;
  State state_;
  bool saving_ = false;
  std::filesystem::path created_;  // the file SaveTo made, removed on failure
  std::optional<Response> refusal_;
};

asio::awaitable<bool> Server::Impl::ServeStreamed(beast::tcp_stream& stream,
                                                  beast::flat_buffer& buffer,
                                                  bhttp::request_parser<bhttp::string_body>& head,
                                                  Request& req, bool keep_alive) {
  const bool expect_continue = AsciiLower(req.Header("expect")) == "100-continue";
  auto body = std::make_shared<StreamedBody>(this, stream, buffer, head, expect_continue);
  req.body_stream = body;
  asio::awaitable<Response> handling = Handle(std::move(req));
  Response res = co_await std::move(handling);
  body->Detach();  // the handler may keep its copy of body_stream; this frame ends
  switch (body->state()) {
    case StreamedBody::State::kFailed:
      if (body->refusal()) co_await Refuse(stream, *body->refusal());
      co_return false;
    case StreamedBody::State::kUnread:
      // Refused before the body was asked for (a wrong token, a bad key):
      // the rest of the request is not read, so the connection ends.
      co_await Refuse(stream, res);
      co_return false;
    case StreamedBody::State::kRead:
      break;
  }
  // Storing a large upload (hashing it) may have outlasted the read deadline.
  stream.expires_after(kIdleTimeout);
  boost::system::error_code ec;
  if (!res.file.empty()) {
    co_await WriteFile(stream, res, keep_alive, false, ec);
  } else {
    co_await Write(stream, res, keep_alive, ec);
  }
  co_return !ec && keep_alive;
}

Server::Server(asio::io_context& io, Handler handler, ServerLimits limits)
    : impl_(std::make_unique<Impl>(io, std::move(handler), limits)) {}

Server::~Server() { Stop(); }

Status Server::Listen(const std::string& host_port) {
  auto hp = SplitHostPort(host_port);
  if (!hp.ok() || hp->host.empty() || hp->port.empty()) {
    return Status::InvalidArgument("cannot listen on '" + host_port + "': not host:port");
  }
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(hp->host, hp->port, tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return Status::Error("cannot listen on " + host_port + ": " + ec.message());
  }
  tcp::endpoint ep = endpoints.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    a.close();
    return Status::Error("cannot listen on " + host_port + ": " + ec.message());
  }
  asio::co_spawn(impl_->io, impl_->Accept(), asio::detached);
  return Status::Ok();
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void Server::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
  impl_->accept_backoff.cancel();
  for (auto& c : impl_->connections) c->socket().close(ec);
  for (auto& t : impl_->stream_timers) t->cancel();
}

size_t Server::connections() const { return impl_->open_connections; }
size_t Server::body_bytes_held() const { return impl_->body_bytes; }
uint64_t Server::accept_failures() const { return impl_->accept_failures; }
size_t Server::max_connections() const { return impl_->limits.max_connections; }

}  // namespace anthill::http
