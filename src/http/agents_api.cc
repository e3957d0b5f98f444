#include "http/agents_api.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <map>
#include <regex>

#include "artifact/digest.h"
#include "http/auth.h"
#include "http/json.h"
#include "http/reply.h"

namespace anthill::http {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr Duration kLongestWait{60000};
constexpr Duration kDefaultWait{30000};
const std::string kAgentsPrefix = "/api/v1/agents";

bool ValidMachine(const std::string& name) {
  static const std::regex kName("[A-Za-z0-9._-]{1,128}");
  return std::regex_match(name, kName) && name != "." && name != "..";
}

std::string BearerOf(const Request& req) {
  static const std::string kPrefix = "Bearer ";
  std::string header = req.Header("authorization");
  return header.rfind(kPrefix, 0) == 0 ? header.substr(kPrefix.size()) : "";
}

Response Refused(int status, const std::string& why) { return ErrorResponse(status, why); }

std::vector<std::string> SplitLabels(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string label = text.substr(start, comma - start);
    if (!label.empty()) out.push_back(label);
    start = comma + 1;
  }
  return out;
}

// An answer known without waiting, as the awaitable the routes return.
asio::awaitable<Response> Answered(Response answer) { co_return answer; }

// The agents' routes. Each is a coroutine of its own, reached through
// ServeAgents without a frame in between: an agent's long poll waits up to
// 30 s in Desired, and an orchestrator holds one per agent (10,000), so
// every frame on its way costs 10,000 times its size (a dispatching
// coroutine holds every branch's locals: 1.8 KB).
class AgentRoutes {
 public:
  explicit AgentRoutes(const AgentsContext& ctx) : ctx_(ctx) {}

  // The route of req.path (IsAgentsRoute), and its answer.
  asio::awaitable<Response> Route(const Request& req) const {
    const std::string& p = req.path;
    if (p == "/api/v1/machines") {
      if (req.method != "GET" && req.method != "HEAD") return Answered(Refused(405, "use GET"));
      return Machines(ctx_);
    }
    if (ctx_.fleet == nullptr) {
      return Answered(Refused(404, "agents need a fleet: this anthill keeps its record in SQLite"));
    }
    const std::string rest =
        p.size() > kAgentsPrefix.size() ? p.substr(kAgentsPrefix.size() + 1) : "";
    if (rest.empty()) {
      if (req.method == "POST") return Add(req, ctx_);
      if (req.method != "GET" && req.method != "HEAD") {
        return Answered(Refused(405, "use GET or POST"));
      }
      return Machines(ctx_);
    }
    const size_t slash = rest.find('/');
    std::string machine = rest.substr(0, slash);
    if (!ValidMachine(machine)) return Answered(Refused(400, "bad machine name '" + machine + "'"));
    if (slash == std::string::npos) {
      if (req.method != "DELETE") return Answered(Refused(405, "use DELETE to revoke an agent"));
      return Revoke(req, std::move(machine), ctx_);
    }
    const std::string action = rest.substr(slash + 1);
    if (action == "desired") return Desired(req, std::move(machine), ctx_);
    if (action == "reports") return Report(req, std::move(machine), ctx_);
    return Answered(Refused(404, "no route for " + req.method + " " + p));
  }

 private:
  // nullopt when req carries `machine`'s live token.
  static asio::awaitable<std::optional<Response>> CheckAgent(const Request& req,
                                                             const std::string& machine,
                                                             const AgentsContext& ctx) {
    const std::string token = BearerOf(req);
    if (token.empty()) co_return Refused(401, "an agent token is required (Authorization: Bearer)");
    const std::string owner = MachineOfToken(token);
    if (!owner.empty() && owner != machine) {
      co_return Refused(403, "this token is agent " + owner + "'s, not " + machine + "'s");
    }
    const std::string hash = TokenSha256(token);
    auto ok = co_await ctx.fleet->CheckToken(machine, hash);
    if (!ok.ok()) co_return ErrorResponse(503, "cannot check the token: " + ok.error());
    if (!*ok) {
      co_return Refused(401, "agent " + machine +
                                 ": unknown or revoked token (`anthill agents add " + machine +
                                 "` issues a new one)");
    }
    co_return std::nullopt;
  }

  // `machine` by value: the router's string is gone once it returns.
  static asio::awaitable<Response> Desired(const Request& req, std::string machine,
                                           const AgentsContext& ctx) {
    if (std::optional<Response> refused = co_await CheckAgent(req, machine, ctx))
      co_return *refused;
    if (req.method != "GET") co_return Refused(405, "use GET");
    int64_t after = 0;
    if (auto it = req.query.find("generation"); it != req.query.end() && !it->second.empty()) {
      int64_t n = -1;
      const std::string& text = it->second;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size() || n < 0)
        co_return Refused(400, "bad generation '" + it->second + "'");
      after = n;
    }
    Duration wait = kDefaultWait;
    if (auto it = req.query.find("wait"); it != req.query.end() && !it->second.empty()) {
      auto d = ParseDuration(it->second);
      if (!d.ok()) co_return Refused(400, "bad wait '" + it->second + "': " + d.error());
      wait = std::min(*d, kLongestWait);
    }
    std::vector<std::string> labels;
    if (auto it = req.query.find("labels"); it != req.query.end()) labels = SplitLabels(it->second);
    Status seen = co_await ctx.fleet->Seen(machine, labels);
    if (!seen.ok()) co_return ErrorResponse(503, "cannot record the agent: " + seen.message());

    const auto deadline = std::chrono::steady_clock::now() + wait;
    bool waited_out = false;  // the store is stopping: answer what there is
    for (;;) {
      auto rows = co_await ctx.fleet->DesiredOf(machine);
      if (!rows.ok())
        co_return ErrorResponse(503, "cannot read the desired state: " + rows.error());
      const auto now = std::chrono::steady_clock::now();
      if (rows->first > after || now >= deadline || waited_out) {
        // Each row as stored (ToJson of a DesiredProject), checked to be
        // a JSON object, not parsed into one and written again: a batch
        // of 1,000 switches answers 1,000 polls at once.
        std::vector<std::string_view> projects;
        for (const store::DesiredRow& row : rows->second) {
          if (row.desired.empty()) continue;
          if (row.desired.front() != '{' || !json::accept(row.desired)) {
            spdlog::warn("agent {}: desired state of {} unreadable: not a JSON object", machine,
                         row.project);
            continue;
          }
          projects.push_back(row.desired);
        }
        co_return Response{200,
                           "application/json",
                           deploy::DesiredStateJson(rows->first, ctx.artifacts, projects) + "\n",
                           {}};
      }
      const Duration left = std::chrono::duration_cast<Duration>(deadline - now);
      waited_out = !co_await ctx.fleet->WaitDesired(machine, after, left);
      // Revoked while it waited: locked out now, not at the next poll.
      if (std::optional<Response> refused = co_await CheckAgent(req, machine, ctx))
        co_return *refused;
    }
  }

  static asio::awaitable<Response> Report(const Request& req, std::string machine,
                                          const AgentsContext& ctx) {
    if (std::optional<Response> refused = co_await CheckAgent(req, machine, ctx))
      co_return *refused;
    if (req.method != "POST") co_return Refused(405, "use POST");
    auto report = deploy::ParseAgentReport(req.body);
    if (!report.ok()) co_return Refused(400, report.error());
    // A report id applied before changes nothing and is acknowledged the same.
    Status s = co_await ctx.fleet->ApplyReport(machine, std::move(*report));
    if (!s.ok()) co_return ErrorResponse(503, "report not kept: " + s.message());
    co_return JsonResponse(200, {{"applied", true}});
  }

  static asio::awaitable<Response> Add(const Request& req, const AgentsContext& ctx) {
    if (!Authorized(req, ctx.server_token)) co_return Refused(401, "the server token is required");
    json body = json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
      co_return Refused(400, "send {\"name\": \"<machine>\"}");
    }
    const std::string name = body["name"].get<std::string>();
    if (!ValidMachine(name)) {
      co_return Refused(400, "bad machine name '" + name + "' (letters, digits, . _ -)");
    }
    const std::string token = NewAgentToken(name);
    const std::string hash = TokenSha256(token);
    Status added = co_await ctx.fleet->AddAgent(name, hash);
    if (added.code() == StatusCode::kConflict) {
      co_return Refused(
          409, "agent " + name + " exists: revoke it first (`anthill agents revoke " + name + "`)");
    }
    if (!added.ok()) co_return ErrorResponse(added);
    co_return JsonResponse(201, {{"name", name}, {"token", token}});
  }

  static asio::awaitable<Response> Revoke(const Request& req, std::string machine,
                                          const AgentsContext& ctx) {
    if (!Authorized(req, ctx.server_token)) co_return Refused(401, "the server token is required");
    Status s = co_await ctx.fleet->RevokeAgent(machine);
    if (s.code() == StatusCode::kNotFound) co_return Refused(404, "no agent " + machine);
    if (!s.ok()) co_return ErrorResponse(s);
    co_return JsonResponse(200, {{"message", "agent " + machine + " revoked"}});
  }

  // Every agent, with what it reported of each project.
  static asio::awaitable<Response> Machines(const AgentsContext& ctx) {
    if (ctx.fleet == nullptr) co_return JsonResponse(200, {{"machines", json::array()}});
    auto agents = co_await ctx.fleet->Agents();
    if (!agents.ok()) co_return ErrorResponse(503, agents.error());
    json out = json::array();
    auto desired = co_await ctx.fleet->AllDesired();
    if (!desired.ok()) co_return ErrorResponse(503, desired.error());
    std::map<std::string, std::vector<store::DesiredRow>> by_machine;
    for (store::DesiredRow& row : *desired) by_machine[row.machine].push_back(std::move(row));
    for (const store::AgentRow& a : *agents) out.push_back(ToJson(a, by_machine[a.name]));
    co_return JsonResponse(200, {{"machines", out}});
  }

  const AgentsContext& ctx_;
};

}  // namespace

bool IsAgentsRoute(std::string_view path) {
  return path == "/api/v1/machines" || path == kAgentsPrefix ||
         path.rfind(kAgentsPrefix + "/", 0) == 0;
}

asio::awaitable<Response> ServeAgents(const Request& req, const AgentsContext& ctx) {
  return AgentRoutes(ctx).Route(req);
}

asio::awaitable<bool> CarriesAgentToken(const Request& req, store::AgentFleet* fleet) {
  if (fleet == nullptr) co_return false;
  const std::string token = BearerOf(req);
  const std::string machine = MachineOfToken(token);
  if (machine.empty()) co_return false;
  const std::string hash = TokenSha256(token);
  auto ok = co_await fleet->CheckToken(machine, hash);
  co_return ok.ok() && *ok;
}

std::string NewAgentToken(const std::string& machine) {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    // OpenSSL's generator failing is not something to paper over.
    throw std::runtime_error("RAND_bytes failed: no secure randomness for an agent token");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : bytes) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 15]);
  }
  return machine + "." + hex;
}

std::string TokenSha256(const std::string& token) {
  artifact::Sha256 sha;
  sha.Update(token.data(), token.size());
  return sha.HexDigest();
}

std::string MachineOfToken(const std::string& token) {
  const size_t dot = token.rfind('.');
  if (dot == std::string::npos || dot == 0 || token.size() - dot - 1 != 64) return "";
  return token.substr(0, dot);
}

}  // namespace anthill::http
