// For the artifact tests: runs one store coroutine to its end on an
// io_context of the test's own and returns its Status.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>
#include <utility>

#include "base/status.h"

namespace anthill::artifact {

// Made by the caller (store.Put(ref, file)) and awaited here, so no
// temporary sits inside the co_await (GCC 12).
inline Status Await(boost::asio::awaitable<Status> task) {
  boost::asio::io_context io;
  std::optional<Status> out;
  boost::asio::co_spawn(
      io, [&]() -> boost::asio::awaitable<void> { out.emplace(co_await std::move(task)); },
      boost::asio::detached);
  io.run();
  EXPECT_TRUE(out.has_value()) << "the coroutine did not finish";
  return out ? *out : Status::Internal("the coroutine did not finish");
}

}  // namespace anthill::artifact
