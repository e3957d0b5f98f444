#include "queue/build_slots.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

namespace anthill::queue {
namespace {

TEST(BuildSlots, BoundsBuildsAndWakesWaitersInOrder) {
  boost::asio::io_context io;
  BuildSlots slots(1);
  Event a(io.get_executor()), b(io.get_executor()), c(io.get_executor());
  EXPECT_TRUE(slots.TryAcquire(&a));
  EXPECT_FALSE(slots.TryAcquire(&b));
  EXPECT_FALSE(slots.TryAcquire(&c));
  EXPECT_EQ(slots.waiting(), 2);
  slots.Release();
  EXPECT_TRUE(b.is_set()) << "the first waiter is woken";
  EXPECT_FALSE(c.is_set());
  EXPECT_FALSE(slots.TryAcquire(&c)) << "a later waiter may not overtake";
  EXPECT_TRUE(slots.TryAcquire(&b));
  EXPECT_EQ(slots.in_use(), 1);
  slots.Release();
  EXPECT_TRUE(c.is_set());
  EXPECT_TRUE(slots.TryAcquire(&c));
  EXPECT_EQ(slots.waiting(), 0);
}

TEST(BuildSlots, AWaiterThatGivesUpPassesItsTurnOn) {
  boost::asio::io_context io;
  BuildSlots slots(2);
  Event a(io.get_executor()), b(io.get_executor()), c(io.get_executor()), d(io.get_executor());
  EXPECT_TRUE(slots.TryAcquire(&a));
  EXPECT_TRUE(slots.TryAcquire(&b));
  EXPECT_FALSE(slots.TryAcquire(&c));
  EXPECT_FALSE(slots.TryAcquire(&d));
  slots.Release();
  EXPECT_TRUE(c.is_set());
  slots.Forget(&c);  // c was cancelled before it took the slot
  EXPECT_TRUE(d.is_set());
  EXPECT_TRUE(slots.TryAcquire(&d));
  EXPECT_EQ(slots.in_use(), 2);
}

}  // namespace
}  // namespace anthill::queue
