#include "base/batch_queue.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>

namespace anthill {
namespace {

namespace asio = boost::asio;

struct Item {
  explicit Item(asio::any_io_executor e, int n) : number(n), done(std::move(e)) {}
  int number;
  std::string outcome;
  Event done;
};

// Items queued while a batch is done make the next batch, at most
// `most_at_once` each; every caller sees its own item's outcome.
TEST(BatchQueueTest, ItemsThatComeMeanwhileMakeTheNextBatchUpToTheBound) {
  asio::io_context io;
  std::vector<std::vector<int>> batches;
  BatchQueue<Item> queue(io.get_executor(), 3,
                         [&](BatchQueue<Item>::Batch& batch) -> asio::awaitable<void> {
                           std::vector<int> numbers;
                           for (auto& item : batch) {
                             numbers.push_back(item->number);
                             item->outcome = "done in batch " + std::to_string(batches.size() + 1);
                           }
                           batches.push_back(numbers);
                           co_await SleepFor(Duration(5));  // a statement's round trip
                         });
  std::vector<std::string> seen(7);
  auto add = [&](int n) {
    asio::co_spawn(
        io,
        [&, n]() -> asio::awaitable<void> {
          auto item = std::make_shared<Item>(io.get_executor(), n);
          co_await queue.Add(item);
          seen[n] = item->outcome;
        },
        asio::detached);
  };
  add(0);
  while (batches.empty()) io.run_one();  // the first batch is being done
  for (int n = 1; n < 7; ++n) add(n);
  io.run();
  // The first call finds the queue idle and goes alone; the six that came
  // while it was done go three and three.
  EXPECT_EQ(batches, (std::vector<std::vector<int>>{{0}, {1, 2, 3}, {4, 5, 6}}));
  EXPECT_EQ(seen[0], "done in batch 1");
  EXPECT_EQ(seen[3], "done in batch 2");
  EXPECT_EQ(seen[6], "done in batch 3");
  EXPECT_EQ(queue.queued(), 0u);
}

// The pause comes before every batch of a drain but the first, and is told
// how many wait; a call after the drain ended starts a new one at once.
TEST(BatchQueueTest, ThePauseComesBetweenBatchesOnly) {
  asio::io_context io;
  std::vector<size_t> pauses;
  int batches = 0;
  BatchQueue<Item> queue(
      io.get_executor(), 10,
      [&](BatchQueue<Item>::Batch&) -> asio::awaitable<void> {
        ++batches;
        co_await SleepFor(Duration(5));
      },
      [&](size_t queued) -> asio::awaitable<void> {
        pauses.push_back(queued);
        co_return;
      });
  auto add = [&](int n) {
    asio::co_spawn(
        io,
        [&, n]() -> asio::awaitable<void> {
          co_await queue.Add(std::make_shared<Item>(io.get_executor(), n));
        },
        asio::detached);
  };
  add(1);
  while (batches == 0) io.run_one();  // the first batch is being done
  add(2);
  add(3);
  io.run();
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(pauses, std::vector<size_t>{2});
  io.restart();
  add(4);
  io.run();
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(pauses, std::vector<size_t>{2});  // a new drain: no pause first
}

}  // namespace
}  // namespace anthill
