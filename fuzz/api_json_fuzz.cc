// The JSON bodies the API accepts: POST /api/v1/projects/{name}/deploy
// {"ref"}, .../rollback {"version"}, .../notify {"ref", "commit"}, each with
// an optional "actor": the functions http/api.cc reads them with
// (http/request_body.h), and its answer to a body it refuses
// (http/reply.h's ErrorResponse).
// Checked: a refused body or member is a 400; what parsing accepts holds only
// valid UTF-8, so even a plain dump() of it cannot throw (the API answers
// through http::Dump(), which would hide such a byte as U+FFFD).
// Corpus: fuzz/corpus/api_json/ (what the CLI and the web UI send).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http/reply.h"
#include "http/request_body.h"

namespace {

using anthill::http::ActorOf;
using anthill::http::ErrorResponse;
using anthill::http::ReadJsonObject;
using anthill::http::StringMember;
using nlohmann::json;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto obj = ReadJsonObject(body);
  if (!obj.ok()) {
    Check(ErrorResponse(obj.status()).status == 400);
    return 0;
  }
  json answer = {{"actor", ActorOf(*obj)}};
  for (const char* field : {"ref", "version", "commit"}) {
    auto v = StringMember(*obj, field);
    if (!v.ok()) Check(ErrorResponse(v.status()).status == 400);
    answer[field] = v.ok() ? json(*v) : json{{"error", v.error()}};
  }
  (void)answer.dump();
  return 0;
}
