#include "agent/stopping.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <memory>
#include <optional>

#include "http/json_client.h"

namespace anthill::agent {

namespace asio = boost::asio;

namespace {

// A request's end, shared by the coroutine making it and the one awaiting it.
struct Pending {
  explicit Pending(asio::any_io_executor executor) : done(std::move(executor)) {}
  Event done;
  std::optional<Result<http::ClientResponse>> result;
};

asio::awaitable<void> FetchInto(std::shared_ptr<Pending> pending, asio::any_io_executor executor,
                                std::string method, std::string base_url, std::string target,
                                std::string body, std::string token, Duration timeout,
                                std::string source) {
  asio::awaitable<Result<http::ClientResponse>> fetching =
      http::AsyncFetch(executor, std::move(method), std::move(base_url), std::move(target),
                       std::move(body), std::move(token), timeout, std::move(source));
  Result<http::ClientResponse> got = co_await std::move(fetching);
  pending->result.emplace(std::move(got));
  pending->done.Set();
}

}  // namespace

Stopping::Stopping(asio::any_io_executor executor) : executor_(executor), stop_(executor) {}

void Stopping::Stop() {
  stopped_ = true;
  stop_.Set();
  for (Event* e : fetches_) e->Set();
}

asio::awaitable<bool> Stopping::Sleep(Duration d) {
  if (stopped_) co_return true;
  co_await stop_.Wait(d);
  co_return stopped_;
}

asio::awaitable<Result<http::ClientResponse>> Stopping::Fetch(std::string method,
                                                              std::string base_url,
                                                              std::string target, std::string body,
                                                              std::string token, Duration timeout) {
  if (stopped_) co_return Status::Cancelled("the agent is stopping");
  auto pending = std::make_shared<Pending>(executor_);
  asio::co_spawn(executor_,
                 FetchInto(pending, executor_, std::move(method), std::move(base_url),
                           std::move(target), std::move(body), std::move(token), timeout, source_),
                 asio::detached);
  fetches_.insert(&pending->done);
  while (!pending->result && !stopped_) co_await pending->done.Wait(kUntilWoken);
  fetches_.erase(&pending->done);
  if (!pending->result) co_return Status::Cancelled("the agent is stopping");
  co_return std::move(*pending->result);
}

}  // namespace anthill::agent
