// Errors as values. A Status is ok or carries a message written where the
// failure happened, with enough context to act on ("git fetch failed (exit 128):
// ..."), and a StatusCode saying what kind of failure it is, so that a caller
// decides by the kind (retry, answer 404, exit 3) and never by reading the
// text back. Result<T> is a T or a failed Status. No exceptions cross module
// lines.
// Thread: plain values, safe to copy anywhere.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace anthill {

// What kind of failure an error is. The producer picks it where it knows
// (os/command knows a timeout, git knows a missing commit); kInternal is the
// default for Status::Error(message), the failures no caller tells apart.
// Mapped to HTTP statuses in http/ alone (http/status_codes.h).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the input is wrong: a config value, a request body, a payload, a name
  kNotFound,         // what was named does not exist: a project, deployment, commit, file
  kConflict,         // not now, in this state: already ended, another action under way
  kUnavailable,      // something needed cannot be reached now (the daemon, a remote); may pass
  kCancelled,        // stopped on purpose before it ended (a cancel, a shutdown)
  kTimedOut,         // ran past its time limit and was stopped
  kUnauthenticated,  // a token or webhook signature missing or wrong
  kInternal,         // any other failure (a command that failed, I/O, a bug)
};

// "ok", "invalid argument", "not found", "conflict", "unavailable",
// "cancelled", "timed out", "unauthenticated", "internal".
constexpr std::string_view ToString(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kConflict:
      return "conflict";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kTimedOut:
      return "timed out";
    case StatusCode::kUnauthenticated:
      return "unauthenticated";
    case StatusCode::kInternal:
      return "internal";
  }
  return "internal";
}

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  // An error of kind kInternal: the kind no caller needs to tell apart.
  static Status Error(std::string message) {
    return Status(StatusCode::kInternal, std::move(message));
  }
  // An error of kind `code`; kOk is taken as kInternal (an error is never ok).
  static Status Error(StatusCode code, std::string message) {
    return Status(code == StatusCode::kOk ? StatusCode::kInternal : code, std::move(message));
  }
  static Status InvalidArgument(std::string m) {
    return Error(StatusCode::kInvalidArgument, std::move(m));
  }
  static Status NotFound(std::string m) { return Error(StatusCode::kNotFound, std::move(m)); }
  static Status Conflict(std::string m) { return Error(StatusCode::kConflict, std::move(m)); }
  static Status Unavailable(std::string m) { return Error(StatusCode::kUnavailable, std::move(m)); }
  static Status Cancelled(std::string m) { return Error(StatusCode::kCancelled, std::move(m)); }
  static Status TimedOut(std::string m) { return Error(StatusCode::kTimedOut, std::move(m)); }
  static Status Unauthenticated(std::string m) {
    return Error(StatusCode::kUnauthenticated, std::move(m));
  }
  static Status Internal(std::string m) { return Error(StatusCode::kInternal, std::move(m)); }

  bool ok() const { return !message_.has_value(); }
  explicit operator bool() const { return ok(); }
  // kOk for ok; otherwise the kind the producer gave (kInternal by default).
  StatusCode code() const { return code_; }
  // The error text; empty for ok.
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // Returns a copy whose message is "<prefix>: <message>", of the same kind.
  // Ok stays ok.
  Status Prefixed(const std::string& prefix) const {
    return ok() ? *this : Status(code_, prefix + ": " + *message_);
  }
  // Returns a copy whose message is "<message><suffix>", of the same kind.
  // Ok stays ok.
  Status Suffixed(const std::string& suffix) const {
    return ok() ? *this : Status(code_, *message_ + suffix);
  }

 private:
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  StatusCode code_ = StatusCode::kOk;
  std::optional<std::string> message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  // REQUIRES: ok()
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Ok when holding a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }
  const std::string& error() const { return status_ref().message(); }
  // kOk when holding a value.
  StatusCode code() const { return status_ref().code(); }

 private:
  const Status& status_ref() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  std::variant<T, Status> v_;
};

}  // namespace anthill
