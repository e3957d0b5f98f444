// The JSON bodies the API accepts (deploy, rollback, notify, stop, start):
// one object, string members, an optional "actor". Kept apart from the routes
// so the fuzzer (fuzz/api_json_fuzz.cc) runs exactly this code.
// Thread: any; pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill::http {

// The JSON object of a POST body; an empty (or blank) body is {}. Errors
// are kInvalidArgument (a 400).
Result<nlohmann::json> ReadJsonObject(std::string_view body);

// A string member of a body, "" when absent or null; errors
// (kInvalidArgument) name the member.
Result<std::string> StringMember(const nlohmann::json& body, const char* name);

// Who asked: the body's "actor" (the CLI sends the user's name), else "api"
// (also when "actor" is not a string).
std::string ActorOf(const nlohmann::json& body);

}  // namespace anthill::http
