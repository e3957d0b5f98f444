#include "config/validate.h"

#include <cctype>
#include <regex>

#include "base/host_port.h"

namespace anthill::config {

Status ValidateHostPort(const std::string& text) {
  auto hp = SplitHostPort(text);
  if (!hp.ok() || !hp->has_port || hp->host.empty()) {
    return Status::InvalidArgument("'" + text + "' is not host:port");
  }
  if (!ParsePort(hp->port)) {
    return Status::InvalidArgument("'" + text + "' has no valid port (1-65535)");
  }
  return Status::Ok();
}

Status ValidateHostName(const std::string& host) {
  bool ok = !host.empty() && host.size() <= 253 && host.front() != '.' && host.front() != '-';
  for (char c : host) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-');
  }
  if (!ok) {
    return Status::InvalidArgument("'" + host +
                                   "' is not a host name (like \"deploy.example.com\": no "
                                   "scheme, port or path)");
  }
  return Status::Ok();
}

Status ValidateLabel(const std::string& label) {
  bool ok = !label.empty();
  for (char c : label) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return Status::InvalidArgument("'" + label +
                                   "' is not a label (letters, digits, '.', '_' and '-')");
  }
  return Status::Ok();
}

Status ValidateMachineGlob(const std::string& glob) {
  static const std::regex kGlob("[A-Za-z0-9._*?!\\[\\]-]+");
  if (!std::regex_match(glob, kGlob)) {
    return Status::InvalidArgument("'" + glob +
                                   "' is not a machine name or glob (letters, digits, '.', '_', "
                                   "'-', and *, ? or [...])");
  }
  return Status::Ok();
}

Status ValidateBranch(const std::string& b) {
  if (b.empty()) return Status::InvalidArgument("must not be empty");
  if (b.front() == '-') return Status::InvalidArgument("'" + b + "' must not start with '-'");
  if (b.find("..") != std::string::npos)
    return Status::InvalidArgument("'" + b + "' must not contain '..'");
  for (char c : b) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || std::string(" ~^:?*[\\").find(c) != std::string::npos) {
      return Status::InvalidArgument("'" + b + "' is not a valid branch name");
    }
  }
  return Status::Ok();
}

}  // namespace anthill::config
