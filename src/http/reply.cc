#include "http/reply.h"

#include "http/status_codes.h"

namespace anthill::http {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response JsonResponse(int status, const json& body) {
  return Response{status, "application/json", Dump(body) + "\n", {}};
}

Response ErrorResponse(int status, const std::string& message) {
  return JsonResponse(status, json{{"error", message}});
}

Response ErrorResponse(const Status& error) {
  return ErrorResponse(HttpStatusFor(error.code()), error.message());
}

}  // namespace anthill::http
