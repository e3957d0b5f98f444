// Bearer-token checks for mutating API calls.
#pragma once

#include <string>

#include "http/server.h"

namespace anthill::http {

// True when no token is configured, or the request carries
// "Authorization: Bearer <token>". Compared in constant time.
bool Authorized(const Request& req, const std::string& token);

}  // namespace anthill::http
