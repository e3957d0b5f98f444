// anthill.toml -> Config. Every error names the file, the line and the key.
#include "config/config.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <map>
#include <regex>
#include <set>

#include "base/files.h"
#include "base/host_port.h"
#include "config/toml_guard.h"
#include "os/signals.h"

namespace anthill::config {

namespace fs = std::filesystem;

const Project* Config::FindProject(std::string_view name) const {
  for (const auto& p : projects) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

// Reads one table's keys, remembering which were seen, so that whatever is
// left over is reported as unknown.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string file, std::string where)
      : table_(table), file_(std::move(file)), where_(std::move(where)) {}

  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  int Line(const toml::node& n) const { return static_cast<int>(n.source().begin.line); }
  int Line() const { return static_cast<int>(table_.source().begin.line); }

  // The first failure is the one reported.
  void Fail(int line, const std::string& key, const std::string& what) {
    if (status_.ok()) {
      status_ = Status::InvalidArgument(file_ + ":" + std::to_string(line) + ": key '" + key +
                                        "' in " + where_ + ": " + what);
    }
  }
  void FailPlain(int line, const std::string& message) {
    if (status_.ok())
      status_ = Status::InvalidArgument(file_ + ":" + std::to_string(line) + ": " + message);
  }

  const toml::node* Get(const std::string& key) {
    seen_.insert(key);
    return table_.get(key);
  }
  bool Has(const std::string& key) const { return table_.contains(key); }

  static const char* TypeName(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::string:
        return "a string";
      case toml::node_type::integer:
        return "an integer";
      case toml::node_type::floating_point:
        return "a number";
      case toml::node_type::boolean:
        return "a boolean";
      case toml::node_type::array:
        return "an array";
      case toml::node_type::table:
        return "a table";
      default:
        return "a date or time";
    }
  }

  void String(const std::string& key, std::string& out) {
    const toml::node* n = Get(key);
    if (!n) return;
    if (!n->is_string()) {
      Fail(Line(*n), key, std::string("must be a string, not ") + TypeName(*n));
      return;
    }
    out = n->as_string()->get();
  }
  void Integer(const std::string& key, int& out) {
    const toml::node* n = Get(key);
    if (!n) return;
    if (!n->is_integer()) {
      Fail(Line(*n), key, std::string("must be an integer, not ") + TypeName(*n));
      return;
    }
    out = static_cast<int>(n->as_integer()->get());
  }
  // A byte size: an integer, or a string with a unit ("50MiB", "10MB", "512KiB").
  void SizeKey(const std::string& key, int64_t& out) {
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
  void DurationKey(const std::string& key, Duration& out) {
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
  void StringArray(const std::string& key, std::vector<std::string>& out) {
    const toml::node* n = Get(key);
    if (!n) return;
    if (!n->is_array()) {
      Fail(Line(*n), key, std::string("must be an array of strings, not ") + TypeName(*n));
      return;
    }
    out.clear();
    for (const auto& item : *n->as_array()) {
      if (!item.is_string()) {
        Fail(Line(item), key,
             std::string("must be an array of strings, not hold ") + TypeName(item));
        return;
      }
      out.push_back(item.as_string()->get());
    }
  }
  // Reports the first key that nothing asked for.
  void RejectUnknown() {
    for (const auto& [k, v] : table_) {
      std::string key(k.str());
      if (!seen_.count(key)) {
        int line = k.source().begin.line ? static_cast<int>(k.source().begin.line) : Line(v);
        FailPlain(line, "unknown key '" + key + "' in " + where_);
        return;
      }
    }
  }

 private:
  const toml::table& table_;
  std::string file_;
  std::string where_;
  std::set<std::string> seen_;
  Status status_;
};

bool IsLocalRelative(const std::string& repo) {
  return repo.rfind("./", 0) == 0 || repo.rfind("../", 0) == 0;
}

Status ValidateHostPort(const std::string& text) {
  auto hp = SplitHostPort(text);
  if (!hp.ok() || !hp->has_port || hp->host.empty()) {
    return Status::InvalidArgument("'" + text + "' is not host:port");
  }
  if (!ParsePort(hp->port)) {
    return Status::InvalidArgument("'" + text + "' has no valid port (1-65535)");
  }
  return Status::Ok();
}

// A name as a Host header carries it, without the port: "deploy.example.com".
Status ValidateHostName(const std::string& host) {
  bool ok = !host.empty() && host.size() <= 253 && host.front() != '.' && host.front() != '-';
  for (char c : host) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-');
  }
  if (!ok) {
    return Status::InvalidArgument("'" + host +
                                   "' is not a host name (like \"deploy.example.com\": no "
                                   "scheme, port or path)");
  }
  return Status::Ok();
}

Status ValidateBranch(const std::string& b) {
  if (b.empty()) return Status::InvalidArgument("must not be empty");
  if (b.front() == '-') return Status::InvalidArgument("'" + b + "' must not start with '-'");
  if (b.find("..") != std::string::npos)
    return Status::InvalidArgument("'" + b + "' must not contain '..'");
  for (char c : b) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || std::string(" ~^:?*[\\").find(c) != std::string::npos) {
      return Status::InvalidArgument("'" + b + "' is not a valid branch name");
    }
  }
  return Status::Ok();
}

void ReadServer(TableReader& r, Server& s) {
  r.String("listen", s.listen);
  r.String("database", s.database);
  r.String("machine", s.machine);
  r.String("token", s.token);
  r.Integer("max_parallel_builds", s.max_parallel_builds);
  r.StringArray("allowed_hosts", s.allowed_hosts);
  std::string data_dir;
  r.String("data_dir", data_dir);
  if (!data_dir.empty()) s.data_dir = data_dir;
  r.RejectUnknown();
}

void ReadHealth(TableReader& parent, const toml::node& node, HealthCheck& h,
                const std::string& file, const std::string& project) {
  if (!node.is_table()) {
    parent.Fail(
        parent.Line(node), "health",
        std::string("must be a table like { http = \"...\" }, not ") + TableReader::TypeName(node));
    return;
  }
  TableReader r(*node.as_table(), file, "health of [[project]] '" + project + "'");
  std::string http, tcp, command;
  r.String("http", http);
  r.String("tcp", tcp);
  r.String("command", command);
  r.DurationKey("timeout", h.timeout);
  r.DurationKey("interval", h.interval);
  r.DurationKey("grace", h.grace);
  r.DurationKey("watch", h.watch);
  r.DurationKey("min_healthy_time", h.min_healthy_time);
  // Unknown keys and bad durations were reported by the caller already.
  int kinds = !http.empty() + !tcp.empty() + !command.empty();
  if (kinds != 1) {
    parent.Fail(parent.Line(node), "health", "set exactly one of http, tcp or command");
    return;
  }
  if (!http.empty()) {
    if (http.rfind("http://", 0) != 0) {
      parent.Fail(parent.Line(node), "health", "http must be an http:// URL, not '" + http + "'");
      return;
    }
    h.kind = HealthCheck::Kind::kHttp;
    h.target = http;
  } else if (!tcp.empty()) {
    Status s = ValidateHostPort(tcp);
    if (!s.ok()) {
      parent.Fail(parent.Line(node), "health", "tcp: " + s.message());
      return;
    }
    h.kind = HealthCheck::Kind::kTcp;
    h.target = tcp;
  } else {
    h.kind = HealthCheck::Kind::kCommand;
    h.target = command;
  }
  if (h.timeout.count() <= 0) parent.Fail(parent.Line(node), "health", "timeout must be above 0");
}

}  // namespace

Result<Config> Parse(std::string_view text, const fs::path& file) {
  const std::string name = file.string();
  Config cfg;
  cfg.file = file;
  // Inputs that take toml++ 3.3.0 to undefined behaviour never reach it.
  if (Status guard = GuardToml(text, name); !guard.ok()) return guard;
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": " +
                                   std::string(e.description()));
  }
  fs::path base = file.has_parent_path() ? fs::absolute(file).parent_path() : fs::current_path();
  cfg.dir = base;

  TableReader top(root, name, "the top level");
  if (const toml::node* server = top.Get("server")) {
    if (!server->is_table()) {
      return Status::InvalidArgument(name + ":" + std::to_string(top.Line(*server)) +
                                     ": 'server' must be a table ([server])");
    }
    TableReader r(*server->as_table(), name, "[server]");
    ReadServer(r, cfg.server);
    if (!r.ok()) return r.status();
    Status s = ValidateHostPort(cfg.server.listen);
    if (!s.ok()) {
      const toml::node* n = server->as_table()->get("listen");
      return Status::InvalidArgument(name + ":" + std::to_string(n ? r.Line(*n) : r.Line()) +
                                     ": key 'listen' in [server]: " + s.message());
    }
    if (cfg.server.max_parallel_builds < 1) {
      const toml::node* n = server->as_table()->get("max_parallel_builds");
      return Status::InvalidArgument(name + ":" + std::to_string(n ? r.Line(*n) : r.Line()) +
                                     ": key 'max_parallel_builds' in [server]: must be at least 1");
    }
    for (const auto& host : cfg.server.allowed_hosts) {
      Status h = ValidateHostName(host);
      if (!h.ok()) {
        const toml::node* n = server->as_table()->get("allowed_hosts");
        return Status::InvalidArgument(name + ":" + std::to_string(n ? r.Line(*n) : r.Line()) +
                                       ": key 'allowed_hosts' in [server]: " + h.message());
      }
    }
  }
  std::map<std::string, int> names;
  if (const toml::node* projects = top.Get("project")) {
    if (!projects->is_array_of_tables()) {
      return Status::InvalidArgument(name + ":" + std::to_string(top.Line(*projects)) +
                                     ": 'project' must be written as [[project]] tables");
    }
    for (const auto& item : *projects->as_array()) {
      const toml::table& t = *item.as_table();
      Project p;
      p.line = static_cast<int>(t.source().begin.line);
      std::string label = "[[project]]";
      if (auto n = t.get("name"); n && n->is_string()) {
        label = "[[project]] '" + n->as_string()->get() + "'";
      }
      TableReader r(t, name, label);
      r.String("name", p.name);
      r.String("repo", p.repo);
      r.String("branch", p.branch);
      r.String("tags", p.tags);
      r.DurationKey("poll", p.poll);
      r.DurationKey("quiet_period", p.quiet_period);
      r.String("webhook_secret", p.webhook_secret);
      r.String("build", p.build);
      r.String("test", p.test);
      r.DurationKey("build_timeout", p.build_timeout);
      r.StringArray("artifacts", p.artifacts);
      r.String("run", p.run);
      if (const toml::node* env = r.Get("env")) {
        if (!env->is_table()) {
          r.Fail(r.Line(*env), "env",
                 std::string("must be a table of strings, not ") + TableReader::TypeName(*env));
        } else {
          static const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");
          for (const auto& [k, v] : *env->as_table()) {
            std::string key(k.str());
            if (!std::regex_match(key, kEnvName)) {
              r.Fail(r.Line(v), "env", "'" + key + "' is not a valid environment variable name");
            } else if (!v.is_string()) {
              r.Fail(r.Line(v), "env",
                     "value of " + key + " must be a string, not " + TableReader::TypeName(v));
            } else {
              p.env[key] = v.as_string()->get();
            }
          }
        }
      }
      if (const toml::node* health = r.Get("health")) {
        // Errors inside health carry their own location.
        if (health->is_table()) {
          TableReader hr(*health->as_table(), name, "health of " + label);
          std::string ignored;
          for (const char* k : {"http", "tcp", "command"}) hr.String(k, ignored);
          Duration d;
          for (const char* k : {"timeout", "interval", "grace", "watch", "min_healthy_time"}) {
            hr.DurationKey(k, d);
          }
          hr.RejectUnknown();
          if (!hr.ok()) return hr.status();
        }
        ReadHealth(r, *health, p.health, name, p.name);
      }
      std::string stop_signal;
      r.String("stop_signal", stop_signal);
      if (!stop_signal.empty() && r.ok()) {
        auto sig = os::SignalFromName(stop_signal);
        if (!sig.ok()) {
          r.Fail(r.Line(*t.get("stop_signal")), "stop_signal", sig.error());
        } else {
          p.stop_signal = *sig;
          p.stop_signal_name = os::SignalName(*sig);
        }
      }
      r.DurationKey("stop_timeout", p.stop_timeout);
      r.Integer("keep_releases", p.keep_releases);
      std::string restart;
      r.String("restart", restart);
      r.SizeKey("log_max_size", p.log_max_size);
      std::string ready;
      r.String("ready", ready);
      r.StringArray("listen", p.listen);
      r.RejectUnknown();
      if (!r.ok()) return r.status();

      auto fail = [&](const std::string& key, const std::string& what) {
        const toml::node* n = t.get(key);
        return Status::InvalidArgument(name + ":" + std::to_string(n ? r.Line(*n) : p.line) +
                                       ": key '" + key + "' in " + label + ": " + what);
      };
      for (const char* required : {"name", "repo", "run"}) {
        const toml::node* n = t.get(required);
        if (!n || (n->is_string() && n->as_string()->get().empty())) {
          return Status::InvalidArgument(name + ":" + std::to_string(p.line) + ": " + label +
                                         " is missing required key '" + required + "'");
        }
      }
      static const std::regex kName("[A-Za-z0-9._-]+");
      if (!std::regex_match(p.name, kName) || p.name == "." || p.name == "..") {
        return fail("name", "'" + p.name + "' may only hold letters, digits, '.', '_' and '-'");
      }
      if (auto it = names.find(p.name); it != names.end()) {
        return Status::InvalidArgument(name + ":" + std::to_string(p.line) +
                                       ": duplicate project name '" + p.name + "' (first at line " +
                                       std::to_string(it->second) + ")");
      }
      names[p.name] = p.line;
      if (t.contains("branch") && t.contains("tags")) {
        return fail("tags", "set either 'branch' or 'tags', not both");
      }
      if (Status s = ValidateBranch(p.branch); !s.ok()) return fail("branch", s.message());
      if (p.build_timeout.count() <= 0) return fail("build_timeout", "must be above 0");
      if (p.keep_releases < 1) return fail("keep_releases", "must be at least 1");
      if (ready == "notify") {
        p.ready_notify = true;
      } else if (!ready.empty() && ready != "health") {
        return fail("ready", "'" + ready + "' is not one of health, notify");
      }
      if (restart == "always") {
        p.restart = Project::Restart::kAlways;
      } else if (restart == "never") {
        p.restart = Project::Restart::kNever;
      } else if (!restart.empty() && restart != "on-failure") {
        return fail("restart", "'" + restart + "' is not one of on-failure, always, never");
      }
      for (const auto& a : p.artifacts) {
        if (a.empty() || a.front() == '/' ||
            fs::path(a).lexically_normal().string().rfind("..", 0) == 0) {
          return fail("artifacts", "'" + a + "' must be a relative path inside the workspace");
        }
      }
      for (const auto& l : p.listen) {
        if (l.rfind("tcp://", 0) == 0) {
          if (Status s = ValidateHostPort(l.substr(6)); !s.ok()) return fail("listen", s.message());
        } else if (l.rfind("unix:///", 0) != 0) {
          return fail("listen", "'" + l + "' must be tcp://host:port or unix:///path");
        }
      }
      if (IsLocalRelative(p.repo)) p.repo = (base / p.repo).lexically_normal().string();
      cfg.projects.push_back(std::move(p));
    }
  }
  top.RejectUnknown();
  if (!top.ok()) return top.status();

  if (cfg.server.data_dir.is_relative()) {
    cfg.server.data_dir = (base / cfg.server.data_dir).lexically_normal();
  }
  if (cfg.server.machine.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    cfg.server.machine = host;
  }
  if (const char* token = getenv("ANTHILL_TOKEN"); token && *token) cfg.server.token = token;
  return cfg;
}

Result<Config> Load(const fs::path& file) {
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  return Parse(*text, file);
}

}  // namespace anthill::config
