// Checks of single config values, whatever key they come from. Each returns
// ok or an error of kind kInvalidArgument that says what is wrong with the
// value ("'x' is not host:port"); the caller adds the file, line and key.
// Thread: any (pure functions).
#pragma once

#include <string>

#include "base/status.h"

namespace anthill::config {

// "host:port", with a port in 1-65535.
Status ValidateHostPort(const std::string& text);

// A name as a Host header carries it, without the port: "deploy.example.com".
Status ValidateHostName(const std::string& host);

// A branch name git would take (and no option: no leading '-').
Status ValidateBranch(const std::string& b);

// A builder label ("gpu", "arm64", "linux-x86_64"): [A-Za-z0-9._-]+.
Status ValidateLabel(const std::string& label);

// A `machines` entry: an agent's name or a glob over names (fnmatch):
// [A-Za-z0-9._-] and the glob characters *, ?, !, [ and ].
Status ValidateMachineGlob(const std::string& glob);

}  // namespace anthill::config
