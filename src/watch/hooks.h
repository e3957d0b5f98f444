// Webhook receivers for GitHub, GitLab, Gitea and a generic format: signature
// checks over the raw body, payload parsing into one PushEvent shape, and the
// repository URL normalisation used to match a hook to projects.
//
// Pure functions of (headers, body, secret): no I/O, no state, so the HTTP
// layer decides what to do and these are tested with the forges' real payloads.
// Where each part is: hooks.cc (forge names, the headers, ParsePush's body
// decoding), hooks_signature.cc, hooks_forges.cc (each forge's payload),
// hooks_repo_url.cc.
// Thread: any.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace anthill::watch {

enum class Forge { kGithub, kGitlab, kGitea, kGeneric };

// "github", "gitlab", "gitea", "generic" <-> Forge; nullopt-like: false when unknown.
bool ParseForge(std::string_view name, Forge* out);
std::string_view ToString(Forge f);

// Headers as the HTTP layer hands them over: names lowercased.
using Headers = std::map<std::string, std::string>;

// Checks the request's signature over the raw body with `secret`, in constant
// time:
//   github:  X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
//   gitea:   X-Gitea-Signature: <hex HMAC-SHA256(secret, body)>
//   gitlab:  X-Gitlab-Token: <secret>            (GitLab sends the token itself)
//   generic: X-Anthill-Signature: sha256=<hex HMAC-SHA256(secret, body)>
// An empty secret never verifies. The error, of kind kUnauthenticated, says
// what was wrong ("missing X-Hub-Signature-256 header", "signature does not
// match") but never the secret.
Status VerifySignature(Forge forge, const Headers& headers, std::string_view body,
                       std::string_view secret);

// Lowercase hex HMAC-SHA256 of body under secret (for tests, the bench, and
// the generic format's documentation).
std::string HmacSha256Hex(std::string_view secret, std::string_view body);

// A push of a branch or a tag, as any forge describes it.
struct PushEvent {
  std::string delivery_id;             // X-GitHub-Delivery, X-Gitea-Delivery,
                                       // X-Gitlab-Event-UUID, X-Anthill-Delivery; may be empty
  std::string event;                   // the forge's event name ("push", "Tag Push Hook")
  bool is_push = false;                // false: another event (ping, issues...) to ignore
  std::string ref;                     // "refs/heads/main", "refs/tags/release-1"
  std::string commit;                  // 40 hex: the new head ("after"/"checkout_sha")
  bool deleted = false;                // the ref was deleted (after = 000...0)
  std::vector<std::string> repo_urls;  // every URL the payload gives for the repository
  std::string repository;              // a display name ("org/repo")
  std::string pusher;                  // who pushed (login/username/name), may be empty
};

// Parses a verified body. GitHub's form encoding (payload=<urlencoded JSON>,
// Content-Type application/x-www-form-urlencoded) is accepted too.
// Errors ("body is not JSON: ...", "push event without 'after'") are of kind
// kInvalidArgument (a 400).
// The generic format is JSON:
//   {"repository": "<url>", "ref": "refs/heads/main", "commit": "<40 hex>",
//    "pusher": "alice"}
Result<PushEvent> ParsePush(Forge forge, const Headers& headers, std::string_view body);

// What the headers alone say about a delivery: its delivery id and event name
// (GitLab's event from X-Gitlab-Event; the generic format's is "push"), the
// rest empty and is_push false. For a verified delivery whose body ParsePush
// refused, so that it is stored with its verdict like any other. Never fails.
PushEvent DescribeDelivery(Forge forge, const Headers& headers);

// A repository URL reduced so that the forms one repository goes by compare
// equal: scheme, user, and default ports dropped, "git@host:path" turned into
// "host/path", ".git" and trailing slashes removed, lowercased.
//   "https://GitHub.com/Org/Repo.git/" -> "github.com/org/repo"
//   "git@github.com:org/repo.git"      -> "github.com/org/repo"
//   "ssh://git@github.com:22/org/repo" -> "github.com/org/repo"
//   "/srv/git/hello.git"               -> "/srv/git/hello"
//   "file:///srv/git/hello.git"        -> "/srv/git/hello"
std::string NormalizeRepoUrl(std::string_view url);

// True when any of `urls` normalises to the same as `project_repo`.
bool RepoMatches(const std::vector<std::string>& urls, std::string_view project_repo);

}  // namespace anthill::watch
