// The JSON bodies the API accepts: POST /api/v1/projects/{name}/deploy
// {"ref"}, .../rollback {"version"}, .../notify {"ref", "commit"}, each with
// an optional "actor". In src/http/api.cc the parsing is ReadObject() and
// Member() in an anonymous namespace, so not callable from here: these are
// copies of those two functions, line for line (keep them in step), followed
// by what the handler does with the fields and its JSON answer's dump().
// Corpus: fuzz/corpus/api_json/ (what the CLI and the web UI send).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace {

using nlohmann::json;
using anthill::Result;
using anthill::Status;

// Copy of api.cc ReadObject(): the JSON object of a POST body; an empty body
// is {}. Errors mean a 400.
Result<json> ReadObject(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("body must be a JSON object");
  return j;
}

// Copy of api.cc Member(): a string member of a body, "" when absent; errors
// name the member.
Result<std::string> Member(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Status::Error("'" + std::string(name) + "' must be a string");
  return it->get<std::string>();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto obj = ReadObject(body);
  json answer;
  if (!obj.ok()) {
    answer = {{"error", obj.error()}};
  } else {
    // api.cc Actor(): the body's "actor", else "api".
    auto actor = Member(*obj, "actor");
    std::string who = actor.ok() && !actor->empty() ? *actor : "api";
    answer = {{"actor", who}};
    for (const char* field : {"ref", "version", "commit"}) {
      auto v = Member(*obj, field);
      answer[field] = v.ok() ? json(*v) : json{{"error", v.error()}};
    }
  }
  // A parsed body holds only valid UTF-8, so the plain dump() api.cc uses
  // cannot throw on it.
  (void)answer.dump();
  return 0;
}
