// TableReader: one TOML table's keys read into Config's fields, remembering
// which were read so that whatever is left over is reported as unknown. Its
// errors name the file, the line and the key:
//   "anthill.toml:7: key 'poll' in [[project]] 'hello': must be a string, not an integer"
// Internal to config/ (only config/ knows TOML).
// Thread: any; one reader is used by one thread.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace anthill::config {

class TableReader {
 public:
  // `where` names the table in messages: "[server]", "[[project]] 'hello'".
  TableReader(const toml::table& table, std::string file, std::string where)
      : table_(table), file_(std::move(file)), where_(std::move(where)) {}

  // The first failure, or ok.
  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  static int Line(const toml::node& n) { return static_cast<int>(n.source().begin.line); }
  int Line() const { return Line(table_); }
  // "a string", "an integer", ... "a date or time": for "must be X, not Y".
  static const char* TypeName(const toml::node& n);

  // Records "<file>:<line>: key '<key>' in <where>: <what>" unless something
  // failed before: the first failure is the one reported.
  void Fail(int line, const std::string& key, const std::string& what);
  // Records "<file>:<line>: <message>", likewise.
  void FailPlain(int line, const std::string& message);
  // Fail() at `key`'s line (the table's when it is absent, its value a
  // default), returning status(): for checks made once the keys are read.
  Status Refuse(const std::string& key, const std::string& what);

  // The node at `key`, or null when absent; the key counts as known.
  const toml::node* Get(const std::string& key);
  bool Has(const std::string& key) const { return table_.contains(key); }

  // Each reads `key` into `out` when present; `out` is left as it was (its
  // default) when absent, and when the value is refused (a Fail()).
  void String(const std::string& key, std::string& out);
  void Integer(const std::string& key, int& out);
  // A byte size: an integer, or a string with a unit ("50MiB", "10MB",
  // "512KiB"); at least 4096.
  void SizeKey(const std::string& key, int64_t& out);
  // A duration string, as ParseDuration() reads it ("10s", "1m30s").
  void DurationKey(const std::string& key, Duration& out);
  void StringArray(const std::string& key, std::vector<std::string>& out);

  // Reports the first key that nothing asked for.
  void RejectUnknown();

 private:
  // The node at `key` when it holds a T (toml++'s is<T>()); null when absent,
  // or when of another type, having failed "must be <what>, not <its type>".
  template <typename T>
  const toml::node* Typed(const std::string& key, const char* what) {
    const toml::node* n = Get(key);
    if (n != nullptr && !n->is<T>()) {
      Fail(Line(*n), key, std::string("must be ") + what + ", not " + TypeName(*n));
      return nullptr;
    }
    return n;
  }

  const toml::table& table_;
  std::string file_;
  std::string where_;
  std::set<std::string> seen_;
  Status status_;
};

}  // namespace anthill::config
