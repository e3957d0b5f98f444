#include "watch/hooks.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/strings.h"

namespace anthill::watch {
namespace {

using nlohmann::json;

constexpr std::string_view kZeroSha = "0000000000000000000000000000000000000000";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && AsciiLower(a) == AsciiLower(b);
}

// Header value (trimmed) or nullopt when absent; names arrive lowercased.
std::optional<std::string> Header(const Headers& headers, const std::string& name) {
  auto it = headers.find(name);
  if (it == headers.end()) return std::nullopt;
  return std::string(Trim(it->second));
}

// First header of `names` that is present and non-empty, else "".
std::string FirstHeader(const Headers& headers, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto v = Header(headers, name);
    if (v && !v->empty()) return *v;
  }
  return "";
}

// Constant-time equality. The length is not secret (it is a property of the
// algorithm, or of a token the sender chose), so it is checked first.
bool SafeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// "<prefix><hex HMAC>" in header `name`, checked against body under secret.
Status CheckHmacHeader(const Headers& headers, const std::string& name,
                       std::string_view display_name, std::string_view prefix,
                       std::string_view body, std::string_view secret) {
  auto value = Header(headers, name);
  if (!value) return Status::Unauthenticated("missing " + std::string(display_name) + " header");
  std::string_view got = *value;
  if (!prefix.empty()) {
    // The algorithm label is not secret; a wrong one is a configuration error
    // worth naming rather than a plain mismatch.
    if (got.size() < prefix.size() || !EqualsIgnoreCase(got.substr(0, prefix.size()), prefix)) {
      return Status::Unauthenticated(std::string(display_name) + " is not " + std::string(prefix) +
                                     "<hex>");
    }
    got.remove_prefix(prefix.size());
  }
  std::string expected = HmacSha256Hex(secret, body);
  // Hex case carries no meaning; senders are free to use either.
  if (expected.empty() || !SafeEqual(AsciiLower(got), expected)) {
    return Status::Unauthenticated("signature does not match");
  }
  return Status::Ok();
}

// application/x-www-form-urlencoded decoding: %XX escapes and '+' for space;
// nullopt for a malformed escape.
std::optional<std::string> FormDecode(std::string_view s) {
  bool malformed = false;
  std::string out = PercentDecode(s, /*plus_is_space=*/true, &malformed);
  if (malformed) return std::nullopt;
  return out;
}

bool IsFormEncoded(const Headers& headers, std::string_view body) {
  auto type = Header(headers, "content-type");
  if (type) {
    std::string_view t = *type;
    t = Trim(t.substr(0, t.find(';')));
    return EqualsIgnoreCase(t, "application/x-www-form-urlencoded");
  }
  // No Content-Type at all (a hand-made request): the payload= shape is
  // unambiguous, since a JSON body cannot start with it.
  return StartsWith(Trim(body), "payload=");
}

// The JSON text of a body: the body itself, or the `payload` field of a form.
Result<std::string> JsonText(const Headers& headers, std::string_view body) {
  if (!IsFormEncoded(headers, body)) return std::string(body);
  std::string_view rest = body;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    auto key = FormDecode(pair.substr(0, eq));
    if (!key || *key != "payload") continue;
    auto value =
        FormDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) return Status::InvalidArgument("form body: bad percent-encoding in 'payload'");
    return std::move(*value);
  }
  return Status::InvalidArgument("form body without 'payload' field");
}

// Accessors that never throw: absent, null and wrongly-typed fields all read
// as "not there", which is how a payload from another forge version looks.
const json* Field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string Str(const json& obj, const char* key) {
  const json* f = Field(obj, key);
  if (f == nullptr || !f->is_string()) return "";
  return f->get_ref<const std::string&>();
}

const json& Obj(const json& obj, const char* key) {
  static const json kEmpty = json::object();
  const json* f = Field(obj, key);
  return f != nullptr && f->is_object() ? *f : kEmpty;
}

void AddUrl(PushEvent* ev, std::string url) {
  if (url.empty()) return;
  if (std::find(ev->repo_urls.begin(), ev->repo_urls.end(), url) != ev->repo_urls.end()) return;
  ev->repo_urls.push_back(std::move(url));
}

void AddUrls(PushEvent* ev, const json& obj, std::initializer_list<const char*> keys) {
  for (const char* key : keys) AddUrl(ev, Str(obj, key));
}

std::string FirstOf(std::initializer_list<std::string> values) {
  for (const auto& v : values) {
    if (!v.empty()) return v;
  }
  return "";
}

// Fills ref/commit/deleted from a push and checks them. `after_key` names the
// field in errors so the sender can find it.
Status TakePushTarget(PushEvent* ev, const json& body, const char* after_key, std::string commit) {
  ev->ref = Str(body, "ref");
  if (ev->ref.empty()) return Status::InvalidArgument("push event without 'ref'");
  if (!StartsWith(ev->ref, "refs/") || ev->ref.size() == 5) {
    return Status::InvalidArgument("push event ref '" + ev->ref + "' is not refs/...");
  }
  if (commit.empty())
    return Status::InvalidArgument(std::string("push event without '") + after_key + "'");
  commit = AsciiLower(commit);
  if (!IsFullSha(commit)) {
    return Status::InvalidArgument(std::string("push event '") + after_key +
                                   "' is not a 40-hex commit id");
  }
  ev->commit = std::move(commit);
  if (ev->commit == kZeroSha) ev->deleted = true;
  return Status::Ok();
}

// Non-push events: keep whatever ref/commit they carry, unchecked beyond shape.
void TakeLooseTarget(PushEvent* ev, const json& body, const std::string& commit) {
  ev->ref = Str(body, "ref");
  std::string c = AsciiLower(commit);
  if (IsFullSha(c)) ev->commit = c;
}

// Each parser starts from DescribeDelivery(): event and delivery id are set.
Status ParseGithub(const json& body, PushEvent* ev) {
  if (ev->event.empty()) return Status::InvalidArgument("missing X-GitHub-Event header");
  ev->is_push = ev->event == "push";

  const json& repo = Obj(body, "repository");
  AddUrls(ev, repo, {"clone_url", "ssh_url", "git_url", "html_url", "url"});
  ev->repository = Str(repo, "full_name");
  ev->pusher = FirstOf({Str(Obj(body, "pusher"), "name"), Str(Obj(body, "sender"), "login")});

  if (!ev->is_push) {
    TakeLooseTarget(ev, body, Str(body, "after"));
    return Status::Ok();
  }
  Status s = TakePushTarget(ev, body, "after", Str(body, "after"));
  if (!s.ok()) return s;
  const json* deleted = Field(body, "deleted");
  if (deleted != nullptr && deleted->is_boolean() && deleted->get<bool>()) ev->deleted = true;
  return Status::Ok();
}

Status ParseGitea(const json& body, PushEvent* ev) {
  if (ev->event.empty()) return Status::InvalidArgument("missing X-Gitea-Event header");
  ev->is_push = ev->event == "push";

  const json& repo = Obj(body, "repository");
  AddUrls(ev, repo, {"clone_url", "ssh_url", "html_url", "original_url"});
  ev->repository = Str(repo, "full_name");
  const json& pusher = Obj(body, "pusher");
  ev->pusher = FirstOf({Str(pusher, "login"), Str(pusher, "username"), Str(pusher, "full_name"),
                        Str(Obj(body, "sender"), "login")});

  if (!ev->is_push) {
    TakeLooseTarget(ev, body, Str(body, "after"));
    return Status::Ok();
  }
  return TakePushTarget(ev, body, "after", Str(body, "after"));
}

Status ParseGitlab(const json& body, PushEvent* ev) {
  // Project hooks name their kind in object_kind; system hooks in the older
  // shape (GitLab's documented "System Hook" push and tag events) only in
  // event_name, with the same fields as a push hook otherwise.
  std::string kind = FirstOf({Str(body, "object_kind"), Str(body, "event_name")});
  if (ev->event.empty()) ev->event = kind;
  if (ev->event.empty()) return Status::InvalidArgument("missing X-Gitlab-Event header");
  bool push_kind = kind == "push" || kind == "tag_push";
  // System hooks carry pushes too ("System Hook" with a push kind).
  ev->is_push = ev->event == "Push Hook" || ev->event == "Tag Push Hook" ||
                ((ev->event == "System Hook" || ev->event == kind) && push_kind);

  const json& project = Obj(body, "project");
  const json& repo = Obj(body, "repository");
  AddUrls(ev, project, {"git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url", "url"});
  AddUrls(ev, repo, {"git_http_url", "git_ssh_url", "url", "homepage"});
  ev->repository = FirstOf({Str(project, "path_with_namespace"), Str(repo, "name")});
  ev->pusher = FirstOf(
      {Str(body, "user_username"), Str(body, "user_name"), Str(Obj(body, "user"), "username")});

  // "after" is the new head; checkout_sha is null for a deletion, so it only
  // stands in when "after" is missing.
  std::string commit = FirstOf({Str(body, "after"), Str(body, "checkout_sha")});
  if (!ev->is_push) {
    TakeLooseTarget(ev, body, commit);
    return Status::Ok();
  }
  return TakePushTarget(ev, body, "after", commit);
}

Status ParseGeneric(const json& body, PushEvent* ev) {
  ev->is_push = true;
  ev->repository = Str(body, "repository");
  // Our own format: without a repository it can match nothing, which the
  // sender should hear about rather than get a silent no-op.
  if (ev->repository.empty()) return Status::InvalidArgument("push event without 'repository'");
  AddUrl(ev, ev->repository);
  ev->pusher = Str(body, "pusher");
  return TakePushTarget(ev, body, "commit", Str(body, "commit"));
}

// Splits "host[:port]" (after user info is gone) and drops a numeric port.
// Returns the host and, through `path_from_colon`, a non-numeric remainder
// after ':' that some people write as "ssh://host:org/repo".
std::string StripPort(std::string_view authority, std::string* path_from_colon) {
  size_t search_from = 0;
  if (StartsWith(authority, "[")) {  // IPv6 literal: the port follows ']'
    size_t close = authority.find(']');
    if (close != std::string_view::npos) search_from = close;
  }
  size_t colon = authority.find(':', search_from);
  if (colon == std::string_view::npos) return std::string(authority);
  std::string_view after = authority.substr(colon + 1);
  bool numeric = std::all_of(after.begin(), after.end(),
                             [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (!numeric) *path_from_colon = std::string(after);
  return std::string(authority.substr(0, colon));
}

// Collapses repeated slashes, then drops trailing slashes and one ".git".
std::string TidyPath(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  auto drop_slashes = [&out] {
    while (out.size() > 1 && out.back() == '/') out.pop_back();
  };
  drop_slashes();
  if (out.size() > 4 && out.ends_with(".git")) out.resize(out.size() - 4);
  drop_slashes();
  return out;
}

}  // namespace

bool ParseForge(std::string_view name, Forge* out) {
  static constexpr std::pair<std::string_view, Forge> kForges[] = {
      {"github", Forge::kGithub},
      {"gitlab", Forge::kGitlab},
      {"gitea", Forge::kGitea},
      {"generic", Forge::kGeneric},
  };
  for (const auto& [n, f] : kForges) {
    if (EqualsIgnoreCase(name, n)) {
      *out = f;
      return true;
    }
  }
  return false;
}

std::string_view ToString(Forge f) {
  switch (f) {
    case Forge::kGithub:
      return "github";
    case Forge::kGitlab:
      return "gitlab";
    case Forge::kGitea:
      return "gitea";
    case Forge::kGeneric:
      return "generic";
  }
  return "unknown";
}

std::string HmacSha256Hex(std::string_view secret, std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  // OpenSSL may treat a null key or data pointer as "not given" even with a
  // zero length; an empty view's data() can be null, so point at a real byte.
  static const unsigned char kNothing = 0;
  const void* key = secret.empty() ? &kNothing : static_cast<const void*>(secret.data());
  const unsigned char* data =
      body.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(body.data());
  if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), data, body.size(), md, &md_len) ==
      nullptr) {
    return "";
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(md_len * 2);
  for (unsigned int i = 0; i < md_len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

Status VerifySignature(Forge forge, const Headers& headers, std::string_view body,
                       std::string_view secret) {
  // An empty key would make every signature computable by anyone.
  if (secret.empty()) return Status::Unauthenticated("no webhook secret configured");
  switch (forge) {
    case Forge::kGithub:
      return CheckHmacHeader(headers, "x-hub-signature-256", "X-Hub-Signature-256", "sha256=", body,
                             secret);
    case Forge::kGitea:
      return CheckHmacHeader(headers, "x-gitea-signature", "X-Gitea-Signature", "", body, secret);
    case Forge::kGeneric:
      return CheckHmacHeader(headers, "x-anthill-signature", "X-Anthill-Signature", "sha256=", body,
                             secret);
    case Forge::kGitlab: {
      // GitLab signs nothing: the token itself is the proof, so it is compared
      // like a password.
      auto token = Header(headers, "x-gitlab-token");
      if (!token) return Status::Unauthenticated("missing X-Gitlab-Token header");
      if (!SafeEqual(*token, secret))
        return Status::Unauthenticated("X-Gitlab-Token does not match");
      return Status::Ok();
    }
  }
  return Status::Unauthenticated("unknown forge");
}

PushEvent DescribeDelivery(Forge forge, const Headers& headers) {
  // The same headers, in the same order of preference, as the parsers read.
  PushEvent ev;
  switch (forge) {
    case Forge::kGithub:
      ev.event = FirstHeader(headers, {"x-github-event"});
      ev.delivery_id = FirstHeader(headers, {"x-github-delivery"});
      break;
    case Forge::kGitea:
      // Gitea also sends the Gogs and GitHub names of its headers; prefer its own.
      ev.event = FirstHeader(headers, {"x-gitea-event", "x-gogs-event", "x-github-event"});
      ev.delivery_id =
          FirstHeader(headers, {"x-gitea-delivery", "x-gogs-delivery", "x-github-delivery"});
      break;
    case Forge::kGitlab:
      ev.event = FirstHeader(headers, {"x-gitlab-event"});
      ev.delivery_id = FirstHeader(headers, {"x-gitlab-event-uuid", "x-gitlab-webhook-uuid"});
      break;
    case Forge::kGeneric:
      ev.event = "push";
      ev.delivery_id = FirstHeader(headers, {"x-anthill-delivery"});
      break;
  }
  return ev;
}

Result<PushEvent> ParsePush(Forge forge, const Headers& headers, std::string_view body) {
  // Nothing from the JSON library may escape: anything it throws becomes a 400.
  try {
    Result<std::string> text = JsonText(headers, body);
    if (!text.ok()) return text.status();
    json doc;
    try {
      doc = json::parse(text.value());
    } catch (const json::exception& e) {
      return Status::InvalidArgument(std::string("body is not JSON: ") + e.what());
    }
    if (!doc.is_object()) return Status::InvalidArgument("body is not a JSON object");

    PushEvent ev = DescribeDelivery(forge, headers);
    Status s;
    switch (forge) {
      case Forge::kGithub:
        s = ParseGithub(doc, &ev);
        break;
      case Forge::kGitlab:
        s = ParseGitlab(doc, &ev);
        break;
      case Forge::kGitea:
        s = ParseGitea(doc, &ev);
        break;
      case Forge::kGeneric:
        s = ParseGeneric(doc, &ev);
        break;
    }
    if (!s.ok()) return s;
    return ev;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad payload: ") + e.what());
  }
}

std::string NormalizeRepoUrl(std::string_view url) {
  std::string s = AsciiLower(Trim(url));
  if (s.empty()) return s;

  size_t scheme_end = s.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = s.substr(0, scheme_end);
    std::string rest = s.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find_first_of("?#"));
    if (scheme == "file") {
      // file:///srv/x has an empty host; file://localhost/srv/x names one.
      size_t slash = rest.find('/');
      return TidyPath(slash == std::string::npos ? "/" : rest.substr(slash));
    }
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    size_t at = authority.rfind('@');
    if (at != std::string::npos) authority = authority.substr(at + 1);
    std::string colon_path;
    std::string host = StripPort(authority, &colon_path);
    if (!colon_path.empty()) path = "/" + colon_path + path;
    return TidyPath(host + path);
  }

  // Local paths stay paths.
  if (s[0] == '/' || s[0] == '.' || s[0] == '~') return TidyPath(s);

  // scp-like "user@host:path": a ':' before any '/'.
  size_t colon = s.find(':');
  size_t slash = s.find('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash)) {
    std::string host = s.substr(0, colon);
    size_t at = host.rfind('@');
    if (at != std::string::npos) host = host.substr(at + 1);
    return TidyPath(host + "/" + s.substr(colon + 1));
  }
  // "host/path" or "user@host/path" without a scheme.
  size_t at = s.find('@');
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) s = s.substr(at + 1);
  return TidyPath(s);
}

bool RepoMatches(const std::vector<std::string>& urls, std::string_view project_repo) {
  std::string want = NormalizeRepoUrl(project_repo);
  if (want.empty()) return false;
  for (const auto& u : urls) {
    if (u.empty()) continue;
    if (NormalizeRepoUrl(u) == want) return true;
  }
  return false;
}

}  // namespace anthill::watch
