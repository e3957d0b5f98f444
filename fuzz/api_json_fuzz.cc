// The JSON bodies the API accepts: POST /api/v1/projects/{name}/deploy
// {"ref"}, .../rollback {"version"}, .../notify {"ref", "commit"}, each with
// an optional "actor": the parsing api.cc does (http/request_body.h),
// followed by what the handler does with the fields and its JSON answer's
// dump().
// Corpus: fuzz/corpus/api_json/ (what the CLI and the web UI send).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http/request_body.h"

namespace {

using anthill::http::ReadJsonObject;
using anthill::http::StringMember;
using nlohmann::json;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto obj = ReadJsonObject(body);
  json answer;
  if (!obj.ok()) {
    answer = {{"error", obj.error()}};
  } else {
    // api.cc Actor(): the body's "actor", else "api".
    auto actor = StringMember(*obj, "actor");
    std::string who = actor.ok() && !actor->empty() ? *actor : "api";
    answer = {{"actor", who}};
    for (const char* field : {"ref", "version", "commit"}) {
      auto v = StringMember(*obj, field);
      answer[field] = v.ok() ? json(*v) : json{{"error", v.error()}};
    }
  }
  // A parsed body holds only valid UTF-8, so the plain dump() api.cc uses
  // cannot throw on it.
  (void)answer.dump();
  return 0;
}
