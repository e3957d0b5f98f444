// The HTTP API v1, the /deployments page and /healthz, as one Handler.
// Thread: the io_context thread (handlers read the store synchronously).
#pragma once

#include <filesystem>
#include <string>

#include "deploy/controller.h"
#include "http/server.h"
#include "store/store.h"

namespace anthill::http {

struct ApiContext {
  store::Store* store = nullptr;
  deploy::Controller* controller = nullptr;
  std::filesystem::path data_dir;  // build logs are logs/build/<id>.log below it
  std::string machine;
  std::string token;               // mutating calls need "Authorization: Bearer <token>" when set
};

Handler MakeApi(ApiContext ctx);

}  // namespace anthill::http
