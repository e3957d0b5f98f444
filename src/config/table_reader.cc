#include "config/table_reader.h"

#include <map>
#include <regex>
#include <utility>

namespace anthill::config {

const char* TableReader::TypeName(const toml::node& n) {
  static constexpr std::pair<toml::node_type, const char*> kNames[] = {
      {toml::node_type::string, "a string"},         {toml::node_type::integer, "an integer"},
      {toml::node_type::floating_point, "a number"}, {toml::node_type::boolean, "a boolean"},
      {toml::node_type::array, "an array"},          {toml::node_type::table, "a table"},
  };
  for (const auto& [type, name] : kNames) {
    if (n.type() == type) return name;
  }
  return "a date or time";
}

void TableReader::Fail(int line, const std::string& key, const std::string& what) {
  if (status_.ok()) {
    status_ = Status::InvalidArgument(file_ + ":" + std::to_string(line) + ": key '" + key +
                                      "' in " + where_ + ": " + what);
  }
}

void TableReader::FailPlain(int line, const std::string& message) {
  if (status_.ok())
    status_ = Status::InvalidArgument(file_ + ":" + std::to_string(line) + ": " + message);
}

Status TableReader::Refuse(const std::string& key, const std::string& what) {
  const toml::node* n = table_.get(key);
  Fail(n ? Line(*n) : Line(), key, what);
  return status_;
}

const toml::node* TableReader::Get(const std::string& key) {
  seen_.insert(key);
  return table_.get(key);
}

void TableReader::String(const std::string& key, std::string& out) {
  if (const toml::node* n = Typed<std::string>(key, "a string")) out = n->as_string()->get();
}

void TableReader::Integer(const std::string& key, int& out) {
  if (const toml::node* n = Typed<int64_t>(key, "an integer")) {
    out = static_cast<int>(n->as_integer()->get());
  }
}

void TableReader::SizeKey(const std::string& key, int64_t& out) {
  const toml::node* n = Get(key);
  if (!n) return;
  if (n->is_integer()) {
    out = n->as_integer()->get();
  } else if (n->is_string()) {
    static const std::regex kSize("([0-9]+)\\s*(B|KB|KiB|MB|MiB|GB|GiB)?");
    std::smatch m;
    const std::string text = n->as_string()->get();
    if (!std::regex_match(text, m, kSize)) {
      Fail(Line(*n), key, "bad size '" + text + "' (e.g. \"50MiB\", \"10MB\" or bytes)");
      return;
    }
    static const std::map<std::string, int64_t> kUnits = {
        {"", 1},         {"B", 1},         {"KB", 1000},         {"KiB", 1024},
        {"MB", 1000000}, {"MiB", 1 << 20}, {"GB", 1000000000LL}, {"GiB", 1LL << 30}};
    out = std::stoll(m[1].str()) * kUnits.at(m[2].str());
  } else {
    Fail(Line(*n), key, std::string("must be a size like \"50MiB\", not ") + TypeName(*n));
    return;
  }
  if (out < 4096) Fail(Line(*n), key, "must be at least 4096 bytes");
}

void TableReader::DurationKey(const std::string& key, Duration& out) {
  std::string text;
  const toml::node* n = table_.get(key);
  String(key, text);
  if (!n || !ok()) return;
  auto d = ParseDuration(text);
  if (!d.ok()) {
    Fail(Line(*n), key, d.error());
    return;
  }
  out = *d;
}

void TableReader::StringArray(const std::string& key, std::vector<std::string>& out) {
  const toml::node* n = Typed<toml::array>(key, "an array of strings");
  if (!n) return;
  out.clear();
  for (const auto& item : *n->as_array()) {
    if (!item.is_string()) {
      Fail(Line(item), key, std::string("must be an array of strings, not hold ") + TypeName(item));
      return;
    }
    out.push_back(item.as_string()->get());
  }
}

void TableReader::RejectUnknown() {
  for (const auto& [k, v] : table_) {
    std::string key(k.str());
    if (!seen_.count(key)) {
      int line = k.source().begin.line ? static_cast<int>(k.source().begin.line) : Line(v);
      FailPlain(line, "unknown key '" + key + "' in " + where_);
      return;
    }
  }
}

}  // namespace anthill::config
