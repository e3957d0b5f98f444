// Anthill's HTTP server (Boost.Beast lives in http/ only). Requests are
// handed to one synchronous handler on the io_context thread, as plain structs,
// so routes and their tests never see Beast.
// Thread: the io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace anthill::http {

struct Request {
  std::string method;                         // "GET"
  std::string target;                         // "/api/v1/deployments?limit=5"
  std::string path;                           // "/api/v1/deployments" (percent-decoded)
  std::map<std::string, std::string> query;   // decoded query parameters
  std::map<std::string, std::string> headers; // names lowercased
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

using Handler = std::function<Response(const Request&)>;

class Server {
 public:
  Server(boost::asio::io_context& io, Handler handler);
  ~Server();
  // Binds "host:port" ("127.0.0.1:7070", "[::1]:0", port 0 = any) and starts
  // accepting. Errors name the address.
  Status Listen(const std::string& host_port);
  uint16_t port() const;
  // Stops accepting and closes open connections.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anthill::http
