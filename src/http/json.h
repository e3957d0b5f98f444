// The API's JSON shapes, in one place (ARCHITECTURE.md "A deployment in JSON").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/records.h"

namespace anthill::http {

// The JSON text of j. Every string written goes through here: stored data
// may hold bytes that are not UTF-8 (a tag "v9\xe9", an actor "%ff"), which
// plain dump() throws on; here each such byte becomes U+FFFD. Never throws.
std::string Dump(const nlohmann::json& j);
// An answer whose body is Dump(body) and a newline.
Response JsonResponse(int status, const nlohmann::json& body);

nlohmann::json ToJson(const store::Deployment& d);
nlohmann::json ToJson(const store::Step& s, const store::Deployment& d);
nlohmann::json ToJson(const deploy::ProjectState& p);
// {"project", "running": deployment + "phase" | null, "waiting": deployment + "reason" | null}
nlohmann::json ToJson(const deploy::QueueState& q);
nlohmann::json ToJson(const store::HookEvent& e);  // without the body
nlohmann::json ToJson(const store::ProgramEvent& e);

}  // namespace anthill::http
