// Running blocking work (file copies, hashing, libcurl's easy API) off the
// io_context thread: RunBlocking(f) runs f on a small shared thread pool and
// resumes the awaiting coroutine on its own executor with f's result.
//
// Thread: RunBlocking is awaited from a coroutine on any executor; f runs on
// a pool thread, so it must touch only what it owns (capture by value) and
// what is safe from any thread. The coroutine resumes on its executor, never
// on the pool.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace anthill::artifact {

// The pool blocking work runs on: two threads, made on first use, joined at
// exit. Two: a transfer mostly waits on a disk or a network, and the machine
// it runs on also builds and serves.
boost::asio::thread_pool& BlockingPool();

// Runs f() on BlockingPool() and completes, on the awaiting coroutine's
// executor, with what f returned. While f runs, the caller's io_context
// counts it as work (its run() does not return early).
//
// REQUIRES: f returns a non-void, movable value and does not throw (an
// exception on a pool thread ends the process); the caller's io_context
// outlives f. Await the result with named arguments only, e.g.
//   auto job = [path] { return HashFile(path); };
//   boost::asio::awaitable<Result<Packed>> hashed = RunBlocking(std::move(job));
//   Result<Packed> r = co_await std::move(hashed);
// (GCC 12 mishandles temporaries inside a co_await expression.)
template <typename F>
boost::asio::awaitable<std::invoke_result_t<F&>> RunBlocking(F f) {
  using R = std::invoke_result_t<F&>;
  static_assert(!std::is_void_v<R>, "RunBlocking needs a value to resume with");
  auto initiate = [f = std::move(f)](auto handler) mutable {
    // The handler resumes the coroutine: it must run on the coroutine's
    // executor, and that executor's io_context must know work is pending,
    // or a run() with nothing else to do would return with the coroutine
    // still suspended.
    auto work = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                    boost::asio::execution::outstanding_work.tracked);
    boost::asio::post(BlockingPool(), [f = std::move(f), handler = std::move(handler),
                                       work = std::move(work)]() mutable {
      R result = f();
      boost::asio::post(work, [handler = std::move(handler), result = std::move(result)]() mutable {
        std::move(handler)(std::move(result));
      });
    });
  };
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(R)>(
      std::move(initiate), boost::asio::use_awaitable);
}

}  // namespace anthill::artifact
