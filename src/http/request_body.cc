#include "http/request_body.h"

namespace anthill::http {

using nlohmann::json;

Result<json> ReadJsonObject(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::InvalidArgument("body must be a JSON object");
  return j;
}

Result<std::string> StringMember(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return Status::InvalidArgument("'" + std::string(name) + "' must be a string");
  return it->get<std::string>();
}

std::string ActorOf(const json& body) {
  auto actor = StringMember(body, "actor");
  return actor.ok() && !actor->empty() ? *actor : "api";
}

}  // namespace anthill::http
