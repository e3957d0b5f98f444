// The HTTP API v1, the /deployments page and /healthz, as one Handler.
// Requests a browser was made to send (another site, a rebound DNS name) are
// refused first (request_guard.h).
// Thread: the io_context thread (handlers read the store synchronously).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/store.h"

namespace anthill::http {

struct ApiContext {
  store::Store* store = nullptr;
  deploy::Controller* controller = nullptr;
  std::filesystem::path data_dir;  // build logs are logs/build/<id>.log below it
  std::string machine;
  std::string token;  // mutating calls need "Authorization: Bearer <token>" when set
  // [server] allowed_hosts: Host names answered besides localhost, IP
  // addresses, this machine's host name and `machine` (see request_guard.h).
  std::vector<std::string> allowed_hosts;
};

Handler MakeApi(ApiContext ctx);

}  // namespace anthill::http
