// How an agent's loops notice that it is stopping: a flag, waits that end
// early once it is set, and requests that are abandoned instead of awaited
// to their end (a long poll may have 30 s to go).
//
// An abandoned request goes on in a coroutine of its own that holds only
// its own state (shared with the caller until it gives up), so the agent
// may be destroyed while it is in flight; its deadline ends it.
//
// Thread: the io_context thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <set>
#include <string>

#include "base/event.h"
#include "base/status.h"
#include "base/time.h"
#include "http/client.h"

namespace anthill::agent {

class Stopping {
 public:
  explicit Stopping(boost::asio::any_io_executor executor);

  void Stop();
  bool stopped() const { return stopped_; }

  // Waits `d`, or less once stopped; returns whether it is stopped.
  boost::asio::awaitable<bool> Sleep(Duration d);

  // The local address Fetch connects from (AsyncFetch's `source`; "" by
  // default: the system's choice).
  void SetSource(std::string address) { source_ = std::move(address); }

  // http::AsyncFetch (json_client.h), or kCancelled "the agent is stopping"
  // as soon as Stop() is called.
  boost::asio::awaitable<Result<http::ClientResponse>> Fetch(std::string method,
                                                             std::string base_url,
                                                             std::string target, std::string body,
                                                             std::string token, Duration timeout);

 private:
  boost::asio::any_io_executor executor_;
  bool stopped_ = false;
  std::string source_;
  Event stop_;
  std::set<Event*> fetches_;  // the events of requests awaited now
};

}  // namespace anthill::agent
