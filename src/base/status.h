// Errors as values. A Status is ok or carries a message written where the
// failure happened, with enough context to act on ("git fetch failed (exit 128):
// ..."). Result<T> is a T or a failed Status. No exceptions cross module lines.
// Thread: plain values, safe to copy anywhere.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace anthill {

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !message_.has_value(); }
  explicit operator bool() const { return ok(); }
  // The error text; empty for ok.
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // Returns a copy whose message is "<prefix>: <message>". Ok stays ok.
  Status Prefixed(const std::string& prefix) const {
    return ok() ? *this : Status(prefix + ": " + *message_);
  }
  // Returns a copy whose message is "<message><suffix>". Ok stays ok.
  Status Suffixed(const std::string& suffix) const {
    return ok() ? *this : Status(*message_ + suffix);
  }

 private:
  explicit Status(std::string message) : message_(std::move(message)) {}
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

 private:
  const Status& status_ref() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  std::variant<T, Status> v_;
};

}  // namespace anthill
