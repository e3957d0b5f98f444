// Calls that are done many at a time: each call queues an item and waits;
// one drainer at a time takes up to `most_at_once` queued items and does
// them as one batch (one statement for a thousand polls instead of a
// thousand), and the items that came meanwhile make the next batch.
//
// An Item has an `Event done`, set by the queue once its batch is done; the
// batch's work writes each item's outcome into the item before that. A
// `pause`, when given, is awaited before each batch but the first of a
// drain, with the number queued: time for a steady trickle to gather.
//
// The drainer is a coroutine of its own that uses the queue: the queue must
// outlive it (its owner stops adding and lets the drain end first, as a
// store does by outliving its io_context's run).
//
// Thread: the io_context thread of the executor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "base/event.h"

namespace anthill {

template <class Item>
class BatchQueue {
 public:
  using Batch = std::vector<std::shared_ptr<Item>>;
  using Work = std::function<boost::asio::awaitable<void>(Batch&)>;
  using Pause = std::function<boost::asio::awaitable<void>(size_t queued)>;

  BatchQueue(boost::asio::any_io_executor executor, size_t most_at_once, Work work,
             Pause pause = nullptr)
      : executor_(std::move(executor)),
        most_at_once_(most_at_once),
        work_(std::move(work)),
        pause_(std::move(pause)) {}
  BatchQueue(const BatchQueue&) = delete;
  BatchQueue& operator=(const BatchQueue&) = delete;

  // Queues `item`; returns once the batch that holds it is done.
  boost::asio::awaitable<void> Add(std::shared_ptr<Item> item) {
    queued_.push_back(item);
    if (!draining_) {
      draining_ = true;
      boost::asio::co_spawn(executor_, Drain(), boost::asio::detached);
    }
    while (!item->done.is_set()) co_await item->done.Wait(kUntilWoken);
  }

  size_t queued() const { return queued_.size(); }

 private:
  boost::asio::awaitable<void> Drain() {
    bool first = true;
    while (!queued_.empty()) {
      if (!first && pause_) {
        boost::asio::awaitable<void> pausing = pause_(queued_.size());
        co_await std::move(pausing);
      }
      first = false;
      Batch taken;
      while (!queued_.empty() && taken.size() < most_at_once_) {
        taken.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
      boost::asio::awaitable<void> doing = work_(taken);
      co_await std::move(doing);
      for (auto& item : taken) item->done.Set();
    }
    draining_ = false;
  }

  boost::asio::any_io_executor executor_;
  size_t most_at_once_;
  Work work_;
  Pause pause_;
  std::deque<std::shared_ptr<Item>> queued_;
  bool draining_ = false;
};

}  // namespace anthill
