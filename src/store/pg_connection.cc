#include "store/pg_connection.h"

#include <libpq-fe.h>

#include <charconv>

#include "base/strings.h"

namespace anthill::store {

namespace asio = boost::asio;

namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's messages end in a newline, and a multi-line one continues with
// "\n\t"; a Status message is one line.
std::string OneLine(const char* message) {
  std::string out;
  for (char c : Trim(message ? message : "")) {
    if (c == '\n') {
      out += "; ";
    } else if (c != '\t') {
      out += c;
    }
  }
  return out;
}

// The error a result carries, by its SQLSTATE. A result without one was made
// by libpq itself (the connection broke while reading the answer).
Status ResultError(const PGresult* res, bool connection_gone) {
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
  std::string message = "postgresql: " + OneLine(primary ? primary : PQresultErrorMessage(res));
  if (state != nullptr) message += std::string(" (SQLSTATE ") + state + ")";
  if (detail != nullptr) message += "; " + OneLine(detail);
  if (state == nullptr) {
    return Status::Error(connection_gone ? StatusCode::kUnavailable : StatusCode::kInternal,
                         message);
  }
  return Status::Error(PgErrorCode(state), message);
}

PgResult Rows(const PGresult* res) {
  PgResult out;
  const int columns = PQnfields(res);
  const int rows = PQntuples(res);
  for (int c = 0; c < columns; ++c) out.columns.emplace_back(PQfname(res, c));
  out.rows.reserve(rows);
  for (int r = 0; r < rows; ++r) {
    auto& row = out.rows.emplace_back();
    row.reserve(columns);
    for (int c = 0; c < columns; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(res, r, c), PQgetlength(res, r, c)));
      }
    }
  }
  std::string_view count = PQcmdTuples(const_cast<PGresult*>(res));  // "" when none
  std::from_chars(count.data(), count.data() + count.size(), out.affected_rows);
  return out;
}

// The length of the valid UTF-8 sequence starting at text[i] (a byte >=
// 0x80), or 0 when none starts there: RFC 3629's table, which is what the
// server checks (no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PgValidText(std::string_view bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c != 0 && c < 0x80) {
      out += bytes[i++];
      continue;
    }
    const size_t length = c == 0 ? 0 : Utf8SequenceLength(bytes, i);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(bytes.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string PgByteaHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

std::optional<std::string> PgByteaFromHex(std::string_view text) {
  if (!StartsWith(text, "\\x") || text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2 - 1);
  for (size_t i = 2; i < text.size(); i += 2) {
    const int high = HexDigit(text[i]), low = HexDigit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

StatusCode PgErrorCode(std::string_view sqlstate) {
  if (sqlstate == "23505") return StatusCode::kConflict;
  if (sqlstate == "57014") return StatusCode::kCancelled;
  if (sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return StatusCode::kUnavailable;
  }
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "23" || cls == "22") return StatusCode::kInvalidArgument;
  if (cls == "40" || cls == "08" || cls == "53") return StatusCode::kUnavailable;
  return StatusCode::kInternal;
}

asio::awaitable<Result<std::unique_ptr<PgConnection>>> PgConnection::Connect(
    asio::any_io_executor executor, std::string conninfo) {
  // Parsed first so that a malformed string (the caller's configuration) is
  // told apart from a server that cannot be reached, without reading text.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    std::string why = parse_error ? OneLine(parse_error) : "out of memory";
    PQfreemem(parse_error);
    co_return Status::InvalidArgument("postgresql: connection string: " + why);
  }
  PQconninfoFree(parsed);

  // The caller's string is expanded as dbname; the keywords after it win.
  const char* keywords[] = {"dbname", "client_encoding", nullptr};
  const char* values[] = {conninfo.c_str(), "UTF8", nullptr};
  std::unique_ptr<PgConnection> conn(new PgConnection(PQconnectStartParams(keywords, values, 1)));
  if (conn->conn_ == nullptr)
    co_return Status::Unavailable("postgresql: cannot connect: out of memory");
  pg_conn* pg = conn->conn_;

  // libpq's connection loop: before the first PQconnectPoll, wait as if it
  // had said "writing"; then wait as it says. Each turn watches the current
  // socket: when an address fails, libpq closes its socket and tries the next
  // one on a new socket (which may get the same number), so the waiter of a
  // turn is gone before PQconnectPoll runs.
  PostgresPollingStatusType poll =
      PQstatus(pg) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
  while (poll != PGRES_POLLING_OK) {
    if (poll == PGRES_POLLING_FAILED) {
      co_return Status::Unavailable("postgresql: cannot connect: " + OneLine(PQerrorMessage(pg)));
    }
    {
      os::FdWaiter waiter(executor, PQsocket(pg));
      Status ready;
      if (poll == PGRES_POLLING_READING) {
        ready = co_await waiter.WaitReadable();
      } else {
        ready = co_await waiter.WaitWritable();
      }
      if (!ready.ok()) co_return Status::Unavailable("postgresql: connecting: " + ready.message());
    }
    poll = PQconnectPoll(pg);
  }
  // Non-blocking mode: PQsendQueryParams and PQflush never wait for the
  // socket; Query waits on it instead.
  if (PQsetnonblocking(pg, 1) != 0) {
    co_return Status::Internal("postgresql: non-blocking mode: " + OneLine(PQerrorMessage(pg)));
  }
  conn->waiter_ = std::make_unique<os::FdWaiter>(executor, PQsocket(pg));
  // No JIT: Anthill's statements are short, and a plan whose estimate
  // crossed jit_above_cost (a lookup per machine of 1,000, on a table whose
  // statistics lag) spent 70-120 ms compiling what ran in 4 ms. A SET, not
  // a startup option: poolers such as PgBouncer refuse unknown startup
  // parameters. A server without the setting (before PostgreSQL 11) keeps
  // the session as it is.
  std::string no_jit = "SET jit = off";
  PgParams none;
  auto set = co_await conn->Query(std::move(no_jit), std::move(none));
  if (!set.ok() && conn->broken()) co_return set.status().Prefixed("postgresql: SET jit = off");
  co_return std::move(conn);
}

PgConnection::~PgConnection() {
  waiter_.reset();  // forgets the socket first: PQfinish closes it
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConnection::broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

bool PgConnection::StillConnected() {
  if (in_flight_ || broken()) return !broken();
  // Twice: one read takes what the server said (its FATAL goodbye), the
  // next finds the end of the stream behind it. With nothing sent, each
  // read finds the socket empty and returns at once (non-blocking mode).
  for (int i = 0; i < 2 && !broken(); ++i) {
    if (!PQconsumeInput(conn_)) broken_ = true;
  }
  return !broken();
}

bool PgConnection::in_transaction() const {
  const PGTransactionStatusType s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

bool PgConnection::transaction_failed() const {
  return PQtransactionStatus(conn_) == PQTRANS_INERROR;
}

int PgConnection::backend_pid() const { return PQbackendPID(conn_); }

void PgConnection::CancelWait() {
  if (waiter_) waiter_->Cancel();
}

asio::awaitable<Status> PgConnection::Listen(std::string channel) {
  char* quoted = PQescapeIdentifier(conn_, channel.data(), channel.size());
  if (quoted == nullptr) co_return ConnectionError("LISTEN " + channel);
  std::string sql = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  PgParams none;
  auto listened = co_await Query(sql, none);
  co_return listened.status();
}

asio::awaitable<Result<std::vector<PgNotification>>> PgConnection::WaitForNotifications() {
  if (in_flight_) {
    co_return Status::Conflict("postgresql: a query is already in flight on this connection");
  }
  if (broken()) {
    co_return Status::Unavailable("postgresql: connection lost: " + OneLine(PQerrorMessage(conn_)));
  }
  in_flight_ = true;
  auto heard = co_await AwaitNotifications();
  in_flight_ = false;
  co_return heard;
}

// libpq queues each NOTIFY it parses, whenever it reads (during a query
// too); PQnotifies takes them one by one. Nothing is sent here, so an
// interrupted wait leaves nothing half read: only a lost connection breaks.
asio::awaitable<Result<std::vector<PgNotification>>> PgConnection::AwaitNotifications() {
  std::vector<PgNotification> heard;
  while (true) {
    if (!PQconsumeInput(conn_)) {
      broken_ = true;
      co_return ConnectionError("waiting for notifications");
    }
    while (PGnotify* n = PQnotifies(conn_)) {
      heard.push_back({n->relname, n->extra, n->be_pid});
      PQfreemem(n);
    }
    if (!heard.empty()) co_return heard;
    Status ready = co_await waiter_->WaitReadable();
    if (ready.code() == StatusCode::kCancelled) {
      co_return Status::Cancelled("postgresql: waiting for notifications: cancelled");
    }
    if (!ready.ok()) {
      broken_ = true;
      co_return Status::Unavailable("postgresql: waiting for notifications: " + ready.message());
    }
  }
}

Status PgConnection::ConnectionError(const std::string& doing) {
  const bool gone = PQstatus(conn_) != CONNECTION_OK;
  std::string message = "postgresql: " + doing + ": " + OneLine(PQerrorMessage(conn_));
  return Status::Error(gone ? StatusCode::kUnavailable : StatusCode::kInternal, message);
}

asio::awaitable<Result<PgResult>> PgConnection::Query(std::string sql, PgParams params) {
  if (in_flight_) {
    co_return Status::Conflict("postgresql: a query is already in flight on this connection");
  }
  if (broken()) {
    co_return Status::Unavailable("postgresql: connection lost: " + OneLine(PQerrorMessage(conn_)));
  }
  in_flight_ = true;
  auto result = co_await Exchange(sql, params);
  in_flight_ = false;
  co_return result;
}

// The protocol of one statement, as libpq's documentation of non-blocking
// mode asks: send, flush until all is on the wire, then read until libpq is
// no longer busy, taking every result until the null that ends them. Any
// failure in between leaves the connection with an answer half read, so it
// is marked broken rather than reused.
asio::awaitable<Result<PgResult>> PgConnection::Exchange(const std::string& sql,
                                                         const PgParams& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  // Text parameters, text results: lengths and formats may be null.
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0)) {
    broken_ = PQstatus(conn_) != CONNECTION_OK;
    co_return ConnectionError("sending the query");
  }
  while (true) {
    const int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) {
      broken_ = true;
      co_return ConnectionError("sending the query");
    }
    // Whatever the server sent meanwhile (a notice) is taken in before
    // waiting, so it cannot sit waiting on us while we wait on it.
    if (!PQconsumeInput(conn_)) {
      broken_ = true;
      co_return ConnectionError("sending the query");
    }
    Status ready = co_await waiter_->WaitWritable();
    if (!ready.ok()) {
      broken_ = true;
      co_return Status::Unavailable("postgresql: sending the query: " + ready.message());
    }
  }

  std::optional<PgResult> rows;
  std::optional<Status> error;  // the first error the server sent
  while (true) {
    while (PQisBusy(conn_)) {
      Status ready = co_await waiter_->WaitReadable();
      if (!ready.ok()) {
        broken_ = true;
        co_return Status::Unavailable("postgresql: waiting for the answer: " + ready.message());
      }
      if (!PQconsumeInput(conn_)) {
        broken_ = true;
        co_return ConnectionError("reading the answer");
      }
    }
    ResultPtr res(PQgetResult(conn_));
    if (res == nullptr) break;
    switch (PQresultStatus(res.get())) {
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        rows = Rows(res.get());
        break;
      case PGRES_EMPTY_QUERY:
        break;
      case PGRES_COPY_IN:
      case PGRES_COPY_OUT:
      case PGRES_COPY_BOTH:
        // libpq would stay in COPY mode, waiting for data no caller sends.
        broken_ = true;
        co_return Status::Internal("postgresql: COPY is not supported by Query");
      default:
        if (!error) error = ResultError(res.get(), PQstatus(conn_) != CONNECTION_OK);
        break;
    }
  }
  if (error) {
    if (PQstatus(conn_) != CONNECTION_OK) broken_ = true;
    co_return *error;
  }
  co_return rows ? std::move(*rows) : PgResult{};
}

}  // namespace anthill::store
