// The forges' names, what a delivery's headers say, and ParsePush: a body
// (JSON, or GitHub's form) decoded and handed to its forge's payload reader.
// The signature checks are in hooks_signature.cc, the payload readers in
// hooks_forges.cc, repository URLs in hooks_repo_url.cc.
#include "watch/hooks.h"

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/strings.h"
#include "watch/hooks_forges.h"
#include "watch/hooks_headers.h"

namespace anthill::watch {
namespace {

using nlohmann::json;

// The forges by name, both ways.
constexpr std::pair<std::string_view, Forge> kForges[] = {
    {"github", Forge::kGithub},
    {"gitlab", Forge::kGitlab},
    {"gitea", Forge::kGitea},
    {"generic", Forge::kGeneric},
};

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

}  // namespace

bool ParseForge(std::string_view name, Forge* out) {
  for (const auto& [n, f] : kForges) {
    if (EqualsIgnoreCase(name, n)) {
      *out = f;
      return true;
    }
  }
  return false;
}

std::string_view ToString(Forge f) {
  for (const auto& [n, forge] : kForges) {
    if (forge == f) return n;
  }
  return "unknown";
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
    if (Status s = ParsePayload(forge, doc, &ev); !s.ok()) return s;
    return ev;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("bad payload: ") + e.what());
  }
}

}  // namespace anthill::watch
