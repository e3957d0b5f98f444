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

}  // namespace

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
  co_return std::move(conn);
}

PgConnection::~PgConnection() {
  waiter_.reset();  // forgets the socket first: PQfinish closes it
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConnection::broken() const { return broken_ || PQstatus(conn_) != CONNECTION_OK; }

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
