// Listening sockets Anthill holds for a project's zero-downtime swaps
// (`listen = [...]`) and hands to each new program (socket activation).
// Thread: any.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"

namespace anthill::os {

// Binds and listens on "tcp://host:port" ([v6] hosts in brackets) or
// "unix:///path" (a stale socket file is replaced). SO_REUSEADDR and
// SO_REUSEPORT are set, so a later Anthill can bind the same port while a
// program still serves it. The fd is close-on-exec; Spawn's pass_fds hands
// it on. Errors name the address.
Result<int> BindListener(const std::string& spec);

// Copies file descriptor `target_fd` of the process behind `pidfd` into this
// process (pidfd_getfd): after a restart, Anthill takes back the listening
// socket its running program was given, instead of opening a second one.
// Only a listening socket bound to `spec` is accepted.
Result<int> TakeListenerFrom(int pidfd, int target_fd, const std::string& spec);

// A name for LISTEN_FDNAMES: the spec with anything outside [A-Za-z0-9._-]
// replaced ("tcp://127.0.0.1:8080" -> "tcp-127.0.0.1-8080").
std::string ListenerName(const std::string& spec);

void CloseFd(int fd);

}  // namespace anthill::os
