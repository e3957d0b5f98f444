// The awaitable record over SQLite: same rows as the synchronous calls, and
// every call done before its co_await returns (no trip through the queue).
#include "store/async_record_store.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "store/store.h"
#include "testing/testing.h"

namespace anthill::store {
namespace {

namespace asio = boost::asio;

TEST(ImmediateRecordStore, CallsCompleteWithoutSuspendingAndSeeTheSameRecord) {
  testing::TempDir dir;
  auto opened = OpenSqlite(dir / "anthill.db", "web1");
  ASSERT_TRUE(opened.ok()) << opened.error();
  LocalStore& store = **opened;
  AsyncRecordStore& record = store.async_record();

  asio::io_context io;
  bool queue_ran = false;  // set by a handler queued before the calls
  bool done = false;
  int64_t id = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::post(io, [&] { queue_ran = true; });
        Deployment d;
        d.project = "hello";
        d.machine = "web1";
        d.status = DeploymentStatus::kRunning;
        d.started_at = FromUnixMillis(1795532458123);
        auto created = co_await record.CreateDeployment(d);
        EXPECT_TRUE(created.ok()) << created.error();
        id = *created;
        const StepName name = StepName::kBuild;
        auto step = co_await record.StartStep(id, name, FromUnixMillis(1795532459000));
        const std::string no_error;
        auto finished = co_await record.FinishStep(*step, StepStatus::kSucceeded,
                                                   FromUnixMillis(1795532460000), no_error);
        EXPECT_TRUE(finished.ok());
        d.id = id;
        d.status = DeploymentStatus::kSucceeded;
        auto updated = co_await record.UpdateDeployment(d);
        EXPECT_TRUE(updated.ok());
        const std::string project = "hello";
        auto latest = co_await record.LatestDeployment(project, DeploymentStatus::kSucceeded);
        EXPECT_TRUE(latest.ok() && latest->has_value());
        const Pin pin{"hello", std::string(40, 'a'), "failed in deployment 1", FromUnixMillis(1)};
        auto pinned = co_await record.AddPin(pin);
        EXPECT_TRUE(pinned.ok());
        const std::string why = "anthill stopped";
        auto interrupted = co_await record.InterruptUnfinished(FromUnixMillis(2), why);
        EXPECT_EQ(*interrupted, 0);
        EXPECT_FALSE(queue_ran) << "a call went through the io_context's queue";
        done = true;
      },
      asio::detached);
  io.run();
  ASSERT_TRUE(done);

  // The synchronous interface reads what the awaitable one wrote.
  auto d = store.GetDeployment(id);
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->status, DeploymentStatus::kSucceeded);
  ASSERT_EQ((*d)->steps.size(), 1u);
  EXPECT_EQ((*d)->steps[0].name, StepName::kBuild);
  EXPECT_EQ((*d)->steps[0].status, StepStatus::kSucceeded);
  EXPECT_EQ(store.ListPins("hello")->size(), 1u);
}

}  // namespace
}  // namespace anthill::store
