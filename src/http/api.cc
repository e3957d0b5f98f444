// Routes of the HTTP API v1 and the server-rendered pages.
#include "http/api.h"

#include <unistd.h>

#include <cassert>
#include <charconv>
#include <fstream>
#include <memory>
#include <optional>

#include "base/files.h"
#include "http/agents_api.h"
#include "http/artifacts.h"
#include "http/auth.h"
#include "http/json.h"
#include "http/live_events.h"
#include "http/metrics.h"
#include "http/page.h"
#include "http/reply.h"
#include "http/request_body.h"
#include "http/request_guard.h"
#include "http/status_codes.h"
#include "http/webhooks.h"
#include "ui/assets.h"

namespace anthill::http {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

// Parses a non-negative integer; nullopt when it is not one.
std::optional<int64_t> ParseId(std::string_view s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v < 0) return std::nullopt;
  return v;
}

// Reads ?project=&machine=&status=&limit=&before= into a filter; the error
// names the parameter.
Result<store::DeploymentFilter> ReadFilter(const Request& req, int default_limit) {
  store::DeploymentFilter f;
  f.limit = default_limit;
  auto get = [&](const char* k) {
    auto it = req.query.find(k);
    return it == req.query.end() ? std::string() : it->second;
  };
  f.project = get("project");
  f.machine = get("machine");
  if (std::string s = get("status"); !s.empty()) {
    f.status = store::ParseDeploymentStatus(s);
    if (!f.status) return Status::InvalidArgument("bad status '" + s + "'");
  }
  if (std::string s = get("limit"); !s.empty()) {
    auto v = ParseId(s);
    if (!v || *v < 1 || *v > 1000)
      return Status::InvalidArgument("bad limit '" + s + "' (1 to 1000)");
    f.limit = static_cast<int>(*v);
  }
  if (std::string s = get("before"); !s.empty()) {
    auto v = ParseId(s);
    if (!v) return Status::InvalidArgument("bad before '" + s + "' (a deployment id)");
    f.before_id = *v;
  }
  if (std::string s = get("after"); !s.empty()) {
    auto v = ParseId(s);
    if (!v) return Status::InvalidArgument("bad after '" + s + "' (a deployment id)");
    f.after_id = *v;
  }
  return f;
}

Response Outcome(const deploy::ActionOutcome& out) {
  if (!out.ok()) return ErrorResponse(HttpStatusFor(out.code), out.message);
  json body{{"message", out.message}};
  body["deployment"] = out.deployment_id != 0 ? json(out.deployment_id) : json(nullptr);
  return JsonResponse(out.accepted ? 202 : 200, body);
}

class Api {
 public:
  explicit Api(ApiContext ctx)
      : ctx_(std::move(ctx)), agents_{ctx_.agents, ctx_.token, ctx_.agent_artifacts} {
    host_rule_.allowed_hosts = ctx_.allowed_hosts;
    host_rule_.own_names = {ctx_.machine};
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) == 0) host_rule_.own_names.push_back(name);
  }

  // Holds the Api (through `self`) and the Request in the coroutine's frame
  // for as long as the answer takes, whatever the caller does meanwhile.
  static asio::awaitable<Response> Serve(std::shared_ptr<Api> self, Request req) {
    // Counted while in the frame, however it ends (an exception included).
    struct Counted {
      explicit Counted(int* n) : n(n) {
        if (n != nullptr) ++*n;
      }
      ~Counted() {
        if (n != nullptr) --*n;
      }
      int* n;
    } counted(self->ctx_.in_flight);
    // An agent's long poll waits up to 30 s, and an orchestrator holds one
    // per agent (10,000): straight to the agents' routes, without Route's
    // frame of every route's locals (4 KB each) or any other in between.
    if (IsAgentsRoute(req.path)) {
      if (auto refusal = GuardRequest(req, self->host_rule_)) co_return *refusal;
      co_return co_await ServeAgents(req, self->agents_);
    }
    co_return co_await self->Route(req);
  }

 private:
  // The routes that read the record are coroutines, awaited here with named
  // arguments only (GCC 12 mishandles temporaries inside a co_await
  // expression); the others answer at once through Only().
  asio::awaitable<Response> Route(const Request& req) {
    const std::string& p = req.path;
    const bool artifacts = p.rfind(kStreamedPutPrefix, 0) == 0;
    if (auto refusal = GuardRequest(req, host_rule_)) co_return *refusal;
    if (artifacts) {
      // Artifacts are code: reading them needs the token as much as changing
      // them. An agent's token may read them (it runs what they hold).
      if (!Authorized(req, ctx_.token)) {
        const bool reads = req.method == "GET" || req.method == "HEAD";
        bool agent = false;
        if (reads) agent = co_await CarriesAgentToken(req, ctx_.agents);
        if (!agent) co_return Unauthorized();
      }
      asio::awaitable<Response> answer = ServeArtifact(req, ctx_.artifacts);
      co_return co_await std::move(answer);
    }
    if (p == "/healthz")
      co_return Only(req, "GET", [&] { return JsonResponse(200, {{"status", "ok"}}); });
    if (p == "/") {
      co_return Only(req, "GET", [&] {
        return Response{
            302, "text/plain; charset=utf-8", "see /deployments\n", {{"Location", "/deployments"}}};
      });
    }
    if (p == "/deployments")
      co_return Only(req, "GET", [&] { return Asset(req, "deployments.html"); });
    if (p == "/projects") co_return Only(req, "GET", [&] { return Asset(req, "projects.html"); });
    static const std::string kDeploymentPage = "/deployments/", kUi = "/ui/";
    if (p.rfind(kDeploymentPage, 0) == 0 && ParseId(p.substr(kDeploymentPage.size()))) {
      co_return Only(req, "GET", [&] { return Asset(req, "deployment.html"); });
    }
    if (p.rfind(kUi, 0) == 0 && ui::FindAsset(p.substr(kUi.size()))) {
      co_return Only(req, "GET", [&] { return Asset(req, p.substr(kUi.size())); });
    }
    if (p == "/api/v1/events") {
      co_return Only(req, "GET", [&] {
        auto it = req.query.find("project");
        return LiveEvents(ctx_.store, ctx_.record, ctx_.controller, ctx_.machine,
                          it == req.query.end() ? "" : it->second);
      });
    }
    if (p == "/api/v1/projects") co_return Only(req, "GET", [&] { return Projects(); });
    if (p == "/machines") co_return Only(req, "GET", [&] { return Asset(req, "machines.html"); });
    if (p == "/api/v1/deployments") {
      if (auto refused = WrongMethod(req, "GET")) co_return *refused;
      co_return co_await Deployments(req);
    }
    if (p == "/api/v1/queue") {
      if (auto wrong = WrongMethod(req, "GET")) co_return *wrong;
      co_return co_await Queue();
    }
    if (p == "/metrics") {
      if (auto refused = WrongMethod(req, "GET")) co_return *refused;
      co_return co_await Metrics(ctx_.record, ctx_.controller);
    }
    if (p == "/api/v1/hooks") {
      if (auto refused = WrongMethod(req, "GET")) co_return *refused;
      co_return co_await Hooks(req);
    }
    static const std::string kHooks = "/hooks/";
    if (p.rfind(kHooks, 0) == 0) {
      watch::Forge forge;
      if (watch::ParseForge(p.substr(kHooks.size()), &forge)) {
        if (auto refused = WrongMethod(req, "POST")) co_return *refused;
        co_return co_await HandleWebhook(req, forge, ctx_.record, ctx_.controller);
      }
    }
    static const std::string kProjects = "/api/v1/projects/";
    if (p.rfind(kProjects, 0) == 0) {
      std::string rest = p.substr(kProjects.size());
      size_t slash = rest.find('/');
      if (slash != std::string::npos && slash > 0) {
        std::string name = rest.substr(0, slash);
        std::string action = rest.substr(slash + 1);
        if (action == "events") co_return Only(req, "GET", [&] { return Events(req, name); });
        if (action == "log") co_return Only(req, "GET", [&] { return ProjectLog(req, name); });
        if (action == "deploy" || action == "rollback" || action == "notify" || action == "stop" ||
            action == "start") {
          co_return Only(req, "POST", [&] { return ProjectAction(req, name, action); });
        }
      }
    }
    static const std::string kPrefix = "/api/v1/deployments/";
    if (p.rfind(kPrefix, 0) == 0) {
      std::string rest = p.substr(kPrefix.size());
      bool log = false;
      if (rest.size() > 4 && rest.compare(rest.size() - 4, 4, "/log") == 0) {
        log = true;
        rest.resize(rest.size() - 4);
      }
      if (const std::optional<int64_t> id = ParseId(rest)) {
        const int64_t deployment_id = *id;
        if (!log && req.method == "DELETE") co_return co_await CancelDeployment(req, deployment_id);
        if (auto refused = WrongMethod(req, "GET")) co_return *refused;
        if (log) co_return co_await Log(req, deployment_id);
        co_return co_await Deployment(deployment_id);
      }
    }
    if (p.rfind("/api/", 0) == 0)
      co_return ErrorResponse(404, "no route for " + req.method + " " + p);
    co_return Response{404, "text/html; charset=utf-8", NotFoundPage(p), {}};
  }

  // The 405 for a route that answers `method` alone (GET answers HEAD too),
  // or nullopt when req may be served.
  static std::optional<Response> WrongMethod(const Request& req, const char* method) {
    if (req.method == method || (req.method == "HEAD" && std::string(method) == "GET")) {
      return std::nullopt;
    }
    Response r = ErrorResponse(405, req.method + " is not allowed on " + req.path);
    r.headers.push_back({"Allow", method});
    return r;
  }

  template <typename F>
  static Response Only(const Request& req, const char* method, F f) {
    if (auto refused = WrongMethod(req, method)) return *refused;
    return f();
  }

  // An embedded file of the web UI. The ETag is its content hash: browsers
  // ask again each time (no-cache) and get a bodiless 304 while it is the same.
  static Response Asset(const Request& req, const std::string& name) {
    const ui::Asset* a = ui::FindAsset(name);
    if (!a) return ErrorResponse(500, "the web UI was built without " + name);
    std::vector<std::pair<std::string, std::string>> headers = {
        {"ETag", std::string(a->etag)},
        {"Cache-Control", "no-cache"},
        {"X-Content-Type-Options", "nosniff"}};
    if (a->content_type.rfind("text/html", 0) == 0) {
      // Pages run only their own scripts, take no part in frames, and send
      // no referrer: defence in depth behind the escaping in the scripts.
      headers.push_back(
          {"Content-Security-Policy",
           "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
           "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"});
      headers.push_back({"Referrer-Policy", "no-referrer"});
    }
    if (req.Header("if-none-match") == a->etag) {
      return Response{304, std::string(a->content_type), "", std::move(headers)};
    }
    return Response{200, std::string(a->content_type), std::string(a->body), std::move(headers)};
  }

  Response Projects() {
    json list = json::array();
    for (const auto& p : ctx_.controller->Projects()) list.push_back(ToJson(p));
    return JsonResponse(200, {{"projects", list}});
  }

  Response Unauthorized() {
    Response r = ErrorResponse(401, "this call needs the token: Authorization: Bearer <token>");
    r.headers.push_back({"WWW-Authenticate", "Bearer"});
    return r;
  }

  Response ProjectAction(const Request& req, const std::string& name, const std::string& action) {
    if (!Authorized(req, ctx_.token)) return Unauthorized();
    auto body = ReadJsonObject(req.body);
    if (!body.ok()) return ErrorResponse(body.status());
    const std::string actor = ActorOf(*body);
    if (action == "deploy") {
      auto ref = StringMember(*body, "ref");
      if (!ref.ok()) return ErrorResponse(ref.status());
      return Outcome(ctx_.controller->Deploy(name, *ref, actor));
    }
    if (action == "stop") return Outcome(ctx_.controller->StopProgram(name, actor));
    if (action == "start") return Outcome(ctx_.controller->StartProgram(name, actor));
    if (action == "rollback") {
      auto version = StringMember(*body, "version");
      if (!version.ok()) return ErrorResponse(version.status());
      return Outcome(ctx_.controller->Rollback(name, *version, actor));
    }
    auto ref = StringMember(*body, "ref");
    auto commit = StringMember(*body, "commit");
    if (!ref.ok()) return ErrorResponse(ref.status());
    if (!commit.ok()) return ErrorResponse(commit.status());
    return Outcome(ctx_.controller->Notify(name, *ref, *commit, store::Trigger::kNotify, actor));
  }

  asio::awaitable<Response> CancelDeployment(const Request& req, int64_t id) {
    if (!Authorized(req, ctx_.token)) co_return Unauthorized();
    auto d = co_await FindDeployment(id);
    if (!d.ok()) co_return ErrorResponse(d.status());
    if (store::IsFinished(d->status)) {
      co_return ErrorResponse(409, "deployment " + std::to_string(id) + " already ended " +
                                       std::string(store::ToString(d->status)));
    }
    auto it = req.query.find("actor");
    std::string actor = it == req.query.end() ? "" : it->second;
    co_return Outcome(ctx_.controller->Cancel(id, actor.empty() ? "api" : actor));
  }

  Response Events(const Request& req, const std::string& project) {
    auto f = ReadFilter(req, 50);
    if (!f.ok()) return ErrorResponse(f.status());
    auto list = ctx_.store->ListProgramEvents(project, f->limit);
    if (!list.ok()) return ErrorResponse(list.status());
    json out = json::array();
    for (const auto& e : *list) out.push_back(ToJson(e));
    return JsonResponse(200, {{"events", out}});
  }

  // The program's log: the last `bytes` (default 64 KiB), or from `offset`
  // on (to follow it). X-Log-Size says how large the file is now, so a
  // follower asks again from there; a size below its offset means rotated.
  Response ProjectLog(const Request& req, const std::string& project) {
    bool known = false;
    for (const auto& p : ctx_.controller->Projects()) known |= p.name == project;
    if (!known) return ErrorResponse(404, "no project '" + project + "'");
    return FileRange(req, ctx_.data_dir / "logs" / "app" / (project + ".log"));
  }

  static Response FileRange(const Request& req, const std::filesystem::path& file) {
    auto number = [&](const char* k, int64_t fallback) -> std::optional<int64_t> {
      auto it = req.query.find(k);
      if (it == req.query.end()) return fallback;
      return ParseId(it->second);
    };
    auto offset = number("offset", -1);
    auto bytes = number("bytes", 64 * 1024);
    if (!offset || !bytes) return ErrorResponse(400, "offset and bytes are byte counts");
    std::ifstream f(file, std::ios::binary);
    int64_t size = 0;
    if (f) {
      f.seekg(0, std::ios::end);
      size = static_cast<int64_t>(f.tellg());
    }
    int64_t from = *offset >= 0 ? std::min(*offset, size) : std::max<int64_t>(0, size - *bytes);
    int64_t count = *offset >= 0 ? std::min<int64_t>(size - from, 4 << 20) : size - from;
    std::string text(static_cast<size_t>(count), '\0');
    if (count > 0) {
      f.seekg(from);
      f.read(text.data(), count);
    }
    return Response{200,
                    "text/plain; charset=utf-8",
                    text,
                    {{"X-Log-Size", std::to_string(size)},
                     {"X-Log-Offset", std::to_string(from)},
                     {"Cache-Control", "no-store"}}};
  }

  asio::awaitable<Response> Queue() {
    json list = json::array();
    for (const auto& q : ctx_.controller->Queue()) list.push_back(ToJson(q));
    json out = {{"projects", list},
                {"max_parallel_builds", ctx_.controller->max_parallel_builds()},
                {"builds_running", ctx_.controller->builds_running()}};
    if (ctx_.build_queue != nullptr) {
      // The fleet's jobs, queued and running, each with why it waits.
      auto open = co_await ctx_.build_queue->ListOpen();
      if (!open.ok()) co_return ErrorResponse(open.status());
      json jobs = json::array();
      for (const auto& view : *open) jobs.push_back(ToJson(view));
      out["build_jobs"] = jobs;
    }
    co_return JsonResponse(200, out);
  }

  asio::awaitable<Response> Hooks(const Request& req) {
    auto f = ReadFilter(req, 50);
    if (!f.ok()) co_return ErrorResponse(f.status());
    const int limit = f->limit;
    const int64_t before_id = f->before_id;
    auto list = co_await ctx_.record->ListHookEvents(limit, before_id);
    if (!list.ok()) co_return ErrorResponse(list.status());
    json out = json::array();
    for (const auto& e : *list) out.push_back(ToJson(e));
    co_return JsonResponse(200, {{"hooks", out}});
  }

  asio::awaitable<Response> Deployments(const Request& req) {
    auto f = ReadFilter(req, 50);
    if (!f.ok()) co_return ErrorResponse(f.status());
    store::DeploymentFilter filter = *f;
    // A listing: a rollout's steps as one per name (GET /deployments/{id} has each machine's).
    filter.fold_agent_steps = true;
    auto list = co_await ctx_.record->ListDeployments(filter);
    if (!list.ok()) co_return ErrorResponse(list.status());
    json out = json::array();
    for (const auto& d : *list) out.push_back(ToJson(d));
    json next = nullptr;
    if (static_cast<int>(list->size()) == filter.limit && !list->empty()) next = list->back().id;
    co_return JsonResponse(200, {{"deployments", out}, {"next_before", next}});
  }

  asio::awaitable<Response> Deployment(int64_t id) {
    auto d = co_await FindDeployment(id);
    if (!d.ok()) co_return ErrorResponse(d.status());
    json out = ToJson(*d);
    const std::string project = d->project;
    auto n = co_await ctx_.record->DeploymentNeighbours(id, project);
    if (!n.ok()) co_return ErrorResponse(n.status());
    out["previous_id"] = n->previous ? json(n->previous) : json(nullptr);
    out["next_id"] = n->next ? json(n->next) : json(nullptr);
    if (ctx_.build_queue != nullptr) {
      // In a fleet: who built it, and the artifact the machine checked.
      auto jobs = co_await ctx_.build_queue->JobsOfDeployment(id);
      if (!jobs.ok()) co_return ErrorResponse(jobs.status());
      if (!jobs->empty()) out["build"] = ToJson(jobs->back());
    }
    if (ctx_.agents != nullptr) {
      // A rollout over agents: each machine's part, batch by batch.
      auto machines = co_await ctx_.agents->MachinesOf(id);
      if (!machines.ok()) co_return ErrorResponse(machines.status());
      json rows = json::array();
      for (const auto& m : *machines) rows.push_back(ToJson(m));
      out["machines"] = rows;
    }
    co_return JsonResponse(200, out);
  }

  asio::awaitable<Response> Log(const Request& req, int64_t id) {
    auto d = co_await FindDeployment(id);
    if (!d.ok()) co_return ErrorResponse(d.status());
    const auto file = ctx_.data_dir / "logs" / "build" / (std::to_string(id) + ".log");
    if (req.query.count("offset") || req.query.count("bytes")) co_return FileRange(req, file);
    co_return Response{200, "text/plain; charset=utf-8", ReadWholeFile(file), {}};
  }

  // Deployment `id`; kNotFound (a 404) when there is none.
  asio::awaitable<Result<store::Deployment>> FindDeployment(int64_t id) {
    auto d = co_await ctx_.record->GetDeployment(id);
    if (!d.ok()) co_return d.status();
    if (!d->has_value()) co_return Status::NotFound("no deployment " + std::to_string(id));
    co_return std::move(**d);
  }

  ApiContext ctx_;
  const AgentsContext agents_;  // of ctx_: every agents' route reads it
  HostRule host_rule_;
};

}  // namespace

Handler MakeApi(ApiContext ctx) {
  assert(ctx.store && ctx.record && ctx.controller);
  auto api = std::make_shared<Api>(std::move(ctx));
  // Not a coroutine itself: a coroutine lambda's frame only points at its
  // captures, which live in whichever copy of the std::function was called
  // and may be gone before the answer is. Serve's frame holds its own `api`.
  return [api](Request req) { return Api::Serve(api, std::move(req)); };
}

}  // namespace anthill::http
