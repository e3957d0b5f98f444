#include "watch/hooks_forges.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace anthill::watch {
namespace {

using nlohmann::json;

constexpr std::string_view kZeroSha = "0000000000000000000000000000000000000000";

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

}  // namespace

Status ParsePayload(Forge forge, const json& body, PushEvent* ev) {
  switch (forge) {
    case Forge::kGithub:
      return ParseGithub(body, ev);
    case Forge::kGitlab:
      return ParseGitlab(body, ev);
    case Forge::kGitea:
      return ParseGitea(body, ev);
    case Forge::kGeneric:
      return ParseGeneric(body, ev);
  }
  return Status::Ok();
}

}  // namespace anthill::watch
