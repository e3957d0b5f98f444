// The forges' push payloads read into one PushEvent: which fields GitHub,
// GitLab, Gitea and the generic format name the repository, the pusher and
// the new head with, and which of their events are pushes. The body's
// decoding (JSON, or GitHub's form) and the headers are ParsePush's
// (hooks.cc); this is what comes after.
// Thread: any (pure functions).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "watch/hooks.h"

namespace anthill::watch {

// Fills `ev` from `body`, the JSON of a delivery from `forge`. `ev` comes
// from DescribeDelivery(): its event and delivery id are set already (GitLab
// may name the event in the body instead). Errors ("push event without
// 'after'", "missing X-GitHub-Event header") are of kind kInvalidArgument.
// Absent, null and wrongly-typed fields read as "not there"; ParsePush still
// catches anything the JSON library throws.
Status ParsePayload(Forge forge, const nlohmann::json& body, PushEvent* ev);

}  // namespace anthill::watch
