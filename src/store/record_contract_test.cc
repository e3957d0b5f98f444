// The shared record's contract (record_store.h), written once against
// AsyncRecordStore& and run on both backends: SQLite (ImmediateRecordStore
// over the Store of a temp file) and PostgreSQL 15 (PgRecordStore on a
// fresh database of a server the tests start). A behaviour a caller relies
// on holds on both, or a test fails with the backend in its name.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <set>

#include "store/pg_change_listener.h"
#include "store/pg_record_store.h"
#include "store/store.h"
#include "testing/postgres.h"
#include "testing/testing.h"

namespace anthill::store {

// One PostgreSQL server for the whole test binary (pg_record_store_test.cc
// uses it too), started by the first test that needs one, so that tests of
// SQLite alone start none, and stopped when the binary ends.
testing::Postgres& SharedPostgres();

namespace {

namespace asio = boost::asio;

struct PostgresEnvironment : ::testing::Environment {
  void TearDown() override { server.reset(); }
  std::unique_ptr<testing::Postgres> server;
};
auto* const postgres =
    static_cast<PostgresEnvironment*>(::testing::AddGlobalTestEnvironment(new PostgresEnvironment));

}  // namespace

testing::Postgres& SharedPostgres() {
  if (!postgres->server) postgres->server = std::make_unique<testing::Postgres>();
  return *postgres->server;
}

namespace {

Deployment Sample(const std::string& project, const std::string& machine = "m1") {
  Deployment d;
  d.project = project;
  d.machine = machine;
  d.from_version = "main-11111111";
  d.to_version = "main-22222222";
  d.from_commit = std::string(40, '1');
  d.to_commit = std::string(40, '2');
  d.ref = "refs/heads/main";
  d.trigger = Trigger::kPoll;
  d.actor = "poll";
  d.status = DeploymentStatus::kRunning;
  d.started_at = FromUnixMillis(1795532458123);
  return d;
}

std::vector<int64_t> Ids(const std::vector<Deployment>& list) {
  std::vector<int64_t> out;
  for (const auto& d : list) out.push_back(d.id);
  return out;
}

class RecordContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql") {
      testing::Postgres& server = SharedPostgres();
      ASSERT_TRUE(server.ok()) << server.error();
      const std::string database = server.CreateDatabase();
      ASSERT_FALSE(database.empty());
      conninfo_ = server.ConnectionString(database);
    }
    Open();
  }

  // Opens the record for machine m1 (the machine of Sample()): the same
  // file, or database, every time.
  void Open() {
    record_ = nullptr;
    if (GetParam() == "sqlite") {
      auto opened = OpenSqlite(dir_ / "anthill.db", "m1");
      ASSERT_TRUE(opened.ok()) << opened.error();
      sqlite_ = std::move(*opened);
      record_ = &sqlite_->async_record();
    } else {
      auto opened = Await(PgRecordStore::Open(io_.get_executor(), conninfo_, "m1"));
      ASSERT_TRUE(opened.ok()) << opened.error();
      pg_ = std::move(*opened);
      record_ = pg_.get();
    }
  }
  AsyncRecordStore& record() { return *record_; }

  // Runs `call` on the test's loop until it completes, for at most 30 s; a
  // call that does not complete by then is a kTimedOut error. Every call's
  // result is a Result or a Status, which can say so.
  template <typename T>
  T Await(asio::awaitable<T> call) {
    auto out = std::make_shared<std::optional<T>>();
    asio::co_spawn(io_, Into(out, std::move(call)), asio::detached);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    io_.restart();
    while (!*out && !io_.stopped() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_until(deadline);
    }
    if (!*out) return T(Status::TimedOut("the call did not complete within 30 s"));
    return std::move(**out);
  }
  // Runs the test's loop until `done` holds, for at most 30 s; returns done().
  bool RunUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    io_.restart();
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(50));
      if (io_.stopped()) io_.restart();
    }
    return done();
  }
  template <typename T>
  static asio::awaitable<void> Into(std::shared_ptr<std::optional<T>> out,
                                    asio::awaitable<T> call) {
    *out = co_await std::move(call);
  }

  // Creates each and returns its id; fails the test when one cannot be.
  int64_t Create(const Deployment& d) {
    auto id = Await(record().CreateDeployment(d));
    EXPECT_TRUE(id.ok()) << id.error();
    return id.ok() ? *id : 0;
  }

  asio::io_context io_;  // first: outlives the stores, whose connections use it
  testing::TempDir dir_;
  std::string conninfo_;
  std::unique_ptr<Store> sqlite_;
  std::unique_ptr<PgRecordStore> pg_;
  AsyncRecordStore* record_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Backends, RecordContract, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST_P(RecordContract, ADeploymentAndItsStepsRoundTripInOrder) {
  Deployment d = Sample("hello");
  const int64_t id = Create(d);
  const TimePoint t = FromUnixMillis(1795532458500);
  const std::string failure = "build failed (exit 2)";
  auto fetch = Await(record().StartStep(id, StepName::kFetch, t));
  auto build = Await(record().StartStep(id, StepName::kBuild, t + Duration(500)));
  ASSERT_TRUE(fetch.ok() && build.ok()) << fetch.error() << build.error();
  EXPECT_LT(*fetch, *build);
  ASSERT_TRUE(
      Await(record().FinishStep(*fetch, StepStatus::kSucceeded, t + Duration(400), "")).ok());
  ASSERT_TRUE(
      Await(record().FinishStep(*build, StepStatus::kFailed, t + Duration(2000), failure)).ok());
  d.id = id;
  d.project = "renamed";  // an update never moves a deployment to another project
  d.machine = "m2";
  d.to_version = "main-33333333";
  d.status = DeploymentStatus::kFailed;
  d.finished_at = FromUnixMillis(1795532460600);
  d.error = failure;
  d.release = "r1";
  ASSERT_TRUE(Await(record().UpdateDeployment(d)).ok());

  auto got = Await(record().GetDeployment(id));
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_TRUE(got->has_value());
  const Deployment& g = **got;
  EXPECT_EQ(g.id, id);
  EXPECT_EQ(g.project, "hello");
  EXPECT_EQ(g.machine, "m2");
  EXPECT_EQ(g.from_version, "main-11111111");
  EXPECT_EQ(g.to_version, "main-33333333");
  EXPECT_EQ(g.from_commit, std::string(40, '1'));
  EXPECT_EQ(g.to_commit, std::string(40, '2'));
  EXPECT_EQ(g.ref, "refs/heads/main");
  EXPECT_EQ(g.trigger, Trigger::kPoll);
  EXPECT_EQ(g.actor, "poll");
  EXPECT_EQ(g.status, DeploymentStatus::kFailed);
  EXPECT_EQ(g.started_at, d.started_at);
  EXPECT_EQ(g.finished_at, d.finished_at);
  EXPECT_EQ(g.error, failure);
  EXPECT_EQ(g.release, "r1");
  ASSERT_EQ(g.steps.size(), 2u);
  EXPECT_EQ(g.steps[0].id, *fetch);
  EXPECT_EQ(g.steps[0].deployment_id, id);
  EXPECT_EQ(g.steps[0].name, StepName::kFetch);
  EXPECT_EQ(g.steps[0].status, StepStatus::kSucceeded);
  EXPECT_EQ(g.steps[0].started_at, t);
  EXPECT_EQ(g.steps[0].error, "");
  EXPECT_EQ(g.steps[1].name, StepName::kBuild);
  EXPECT_EQ(g.steps[1].status, StepStatus::kFailed);
  EXPECT_EQ(g.steps[1].finished_at, t + Duration(2000));
  EXPECT_EQ(g.steps[1].error, failure);
  EXPECT_FALSE(Await(record().GetDeployment(id + 100))->has_value());
}

TEST_P(RecordContract, AStepOfNoSuchDeploymentIsAnErrorAndWritesNothing) {
  auto step = Await(record().StartStep(999, StepName::kBuild, Now()));
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().rfind("store: insert step: ", 0), 0u) << step.error();
  EXPECT_TRUE(Await(record().ListDeployments(DeploymentFilter{}))->empty());
}

TEST_P(RecordContract, AnEmptyRecordReadsAsEmpty) {
  EXPECT_TRUE(Await(record().ListDeployments(DeploymentFilter{}))->empty());
  EXPECT_FALSE(Await(record().LatestDeployment("hello", std::nullopt))->has_value());
  EXPECT_TRUE(Await(record().CountDeployments())->empty());
  EXPECT_TRUE(Await(record().ListHookEvents(10, 0))->empty());
  EXPECT_TRUE(Await(record().ListPins("hello"))->empty());
  auto n = Await(record().DeploymentNeighbours(1, "hello"));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(n->previous, 0);
  EXPECT_EQ(n->next, 0);
  EXPECT_EQ(*Await(record().InterruptUnfinished(Now(), "anthill stopped")), 0);
}

TEST_P(RecordContract, ListIsNewestFirstFilteredAndPagedByKey) {
  for (int i = 0; i < 10; ++i) {
    Deployment d = Sample(i % 2 ? "odd" : "even", i < 5 ? "m1" : "m2");
    if (i == 3) d.status = DeploymentStatus::kFailed;
    const int64_t id = Create(d);
    ASSERT_TRUE(Await(record().StartStep(id, StepName::kFetch, Now())).ok());
  }
  DeploymentFilter f;
  f.limit = 3;
  auto page = Await(record().ListDeployments(f));
  ASSERT_TRUE(page.ok()) << page.error();
  EXPECT_EQ(Ids(*page), (std::vector<int64_t>{10, 9, 8}));
  ASSERT_EQ((*page)[0].steps.size(), 1u);
  EXPECT_EQ((*page)[0].steps[0].name, StepName::kFetch);
  f.before_id = 8;
  EXPECT_EQ(Ids(*Await(record().ListDeployments(f))), (std::vector<int64_t>{7, 6, 5}));

  const struct {
    std::string project, machine;
    std::optional<DeploymentStatus> status;
    std::vector<int64_t> ids;
  } cases[] = {
      {"odd", "", std::nullopt, {10, 8, 6, 4, 2}},    {"", "m1", std::nullopt, {5, 4, 3, 2, 1}},
      {"even", "m2", std::nullopt, {9, 7}},           {"", "", DeploymentStatus::kFailed, {4}},
      {"odd", "m1", DeploymentStatus::kRunning, {2}}, {"nobody", "", std::nullopt, {}},
  };
  for (const auto& c : cases) {
    DeploymentFilter g;
    g.project = c.project;
    g.machine = c.machine;
    g.status = c.status;
    auto list = Await(record().ListDeployments(g));
    ASSERT_TRUE(list.ok()) << list.error();
    EXPECT_EQ(Ids(*list), c.ids) << c.project << "/" << c.machine;
  }
  DeploymentFilter big;
  big.limit = 100000;  // clamped to 1000
  EXPECT_EQ(Await(record().ListDeployments(big))->size(), 10u);
  big.limit = 0;  // clamped to 1
  EXPECT_EQ(Ids(*Await(record().ListDeployments(big))), (std::vector<int64_t>{10}));
}

TEST_P(RecordContract, PagingBackWithAfterAndNeighbours) {
  for (int i = 0; i < 10; ++i) Create(Sample(i % 2 ? "odd" : "even"));
  DeploymentFilter f;
  f.limit = 3;
  f.after_id = 4;  // the page just newer than id 4: 7, 6, 5 (not 10, 9, 8)
  EXPECT_EQ(Ids(*Await(record().ListDeployments(f))), (std::vector<int64_t>{7, 6, 5}));
  f.project = "odd";  // ids 2, 4, 6, 8, 10
  EXPECT_EQ(Ids(*Await(record().ListDeployments(f))), (std::vector<int64_t>{10, 8, 6}));
  f.before_id = 10;  // both keys: the newest below 10 that are above 4
  EXPECT_EQ(Ids(*Await(record().ListDeployments(f))), (std::vector<int64_t>{8, 6}));
  f.before_id = 0;
  f.after_id = 0;
  f.status = DeploymentStatus::kFailed;
  EXPECT_TRUE(Await(record().ListDeployments(f))->empty());

  auto n = Await(record().DeploymentNeighbours(6, "odd"));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(n->previous, 4);
  EXPECT_EQ(n->next, 8);
  n = Await(record().DeploymentNeighbours(1, "even"));
  EXPECT_EQ(n->previous, 0);
  EXPECT_EQ(n->next, 3);
  EXPECT_EQ(Await(record().DeploymentNeighbours(10, "odd"))->next, 0);
}

TEST_P(RecordContract, LatestDeploymentIsTheNewestOfItsProjectAndStatus) {
  Deployment done = Sample("a");
  done.status = DeploymentStatus::kSucceeded;
  done.finished_at = FromUnixMillis(1795532459000);
  const int64_t done_id = Create(done);
  const int64_t running_id = Create(Sample("a"));
  Create(Sample("b"));
  auto latest = Await(record().LatestDeployment("a", std::nullopt));
  ASSERT_TRUE(latest.ok() && latest->has_value()) << latest.error();
  EXPECT_EQ((*latest)->id, running_id);
  latest = Await(record().LatestDeployment("a", DeploymentStatus::kSucceeded));
  ASSERT_TRUE(latest.ok() && latest->has_value()) << latest.error();
  EXPECT_EQ((*latest)->id, done_id);
  EXPECT_EQ((*latest)->finished_at, done.finished_at);
  EXPECT_FALSE(Await(record().LatestDeployment("a", DeploymentStatus::kFailed))->has_value());
  EXPECT_FALSE(Await(record().LatestDeployment("c", std::nullopt))->has_value());
}

TEST_P(RecordContract, InterruptUnfinishedTouchesOnlyThisMachinesUnfinishedRows) {
  Deployment done = Sample("a");
  done.status = DeploymentStatus::kSucceeded;
  done.finished_at = FromUnixMillis(1795532459000);
  const int64_t done_id = Create(done);
  const int64_t running_id = Create(Sample("a"));
  const int64_t fetched = *Await(record().StartStep(running_id, StepName::kFetch, Now()));
  ASSERT_TRUE(Await(record().FinishStep(fetched, StepStatus::kSucceeded, Now(), "")).ok());
  const int64_t building = *Await(record().StartStep(running_id, StepName::kBuild, Now()));
  Deployment queued = Sample("b");
  queued.status = DeploymentStatus::kQueued;
  const int64_t queued_id = Create(queued);
  const int64_t elsewhere_id = Create(Sample("a", "m2"));  // running on another machine
  ASSERT_TRUE(Await(record().StartStep(elsewhere_id, StepName::kBuild, Now())).ok());

  const TimePoint now = FromUnixMillis(1795532470000);
  auto n = Await(record().InterruptUnfinished(now, "anthill stopped"));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 2);

  auto r = **Await(record().GetDeployment(running_id));
  EXPECT_EQ(r.status, DeploymentStatus::kInterrupted);
  EXPECT_EQ(r.error, "anthill stopped");
  EXPECT_EQ(r.finished_at, now);
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].status, StepStatus::kSucceeded);  // finished steps stay as they ended
  EXPECT_EQ(r.steps[1].id, building);
  EXPECT_EQ(r.steps[1].status, StepStatus::kInterrupted);
  EXPECT_EQ(r.steps[1].finished_at, now);
  EXPECT_EQ(r.steps[1].error, "anthill stopped");
  EXPECT_EQ((**Await(record().GetDeployment(queued_id))).status, DeploymentStatus::kInterrupted);
  auto kept = **Await(record().GetDeployment(done_id));
  EXPECT_EQ(kept.status, DeploymentStatus::kSucceeded);
  EXPECT_EQ(kept.finished_at, done.finished_at);
  // m2's deployment runs there: only m2 can say it does not.
  auto other = **Await(record().GetDeployment(elsewhere_id));
  EXPECT_EQ(other.status, DeploymentStatus::kRunning);
  EXPECT_FALSE(other.finished_at.has_value());
  ASSERT_EQ(other.steps.size(), 1u);
  EXPECT_EQ(other.steps[0].status, StepStatus::kRunning);

  EXPECT_EQ(*Await(record().InterruptUnfinished(now, "again")), 0);
}

// An orchestrator takes project a over from m2, which stopped answering:
// every unfinished row of a is the gone holder's, whichever machine wrote
// it; b goes on where it runs.
TEST_P(RecordContract, InterruptUnfinishedOfProjectTouchesEveryMachinesUnfinishedRowsOfIt) {
  Deployment done = Sample("a", "m2");
  done.status = DeploymentStatus::kSucceeded;
  done.finished_at = FromUnixMillis(1795532459000);
  const int64_t done_id = Create(done);
  const int64_t here_id = Create(Sample("a"));  // m1's own, from before
  const int64_t fetched = *Await(record().StartStep(here_id, StepName::kFetch, Now()));
  ASSERT_TRUE(Await(record().FinishStep(fetched, StepStatus::kSucceeded, Now(), "")).ok());
  const int64_t building_here = *Await(record().StartStep(here_id, StepName::kBuild, Now()));
  const int64_t there_id = Create(Sample("a", "m2"));
  const int64_t building_there = *Await(record().StartStep(there_id, StepName::kBuild, Now()));
  Deployment queued = Sample("a", "m2");
  queued.status = DeploymentStatus::kQueued;
  const int64_t queued_id = Create(queued);
  const int64_t b_here_id = Create(Sample("b"));
  ASSERT_TRUE(Await(record().StartStep(b_here_id, StepName::kBuild, Now())).ok());
  Deployment b_queued = Sample("b", "m2");
  b_queued.status = DeploymentStatus::kQueued;
  const int64_t b_queued_id = Create(b_queued);

  const TimePoint now = FromUnixMillis(1795532470000);
  const std::string why = "orchestrator m2 stopped answering; project taken over by m1";
  auto n = Await(record().InterruptUnfinishedOfProject(now, "a", why));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 3);

  for (int64_t id : {here_id, there_id, queued_id}) {
    auto d = **Await(record().GetDeployment(id));
    EXPECT_EQ(d.status, DeploymentStatus::kInterrupted) << "deployment " << id;
    EXPECT_EQ(d.error, why) << "deployment " << id;
    EXPECT_EQ(d.finished_at, now) << "deployment " << id;
  }
  auto here = **Await(record().GetDeployment(here_id));
  ASSERT_EQ(here.steps.size(), 2u);
  EXPECT_EQ(here.steps[0].status, StepStatus::kSucceeded);  // finished steps stay as they ended
  EXPECT_EQ(here.steps[0].error, "");
  EXPECT_EQ(here.steps[1].id, building_here);
  EXPECT_EQ(here.steps[1].status, StepStatus::kInterrupted);
  EXPECT_EQ(here.steps[1].finished_at, now);
  EXPECT_EQ(here.steps[1].error, why);
  auto there = **Await(record().GetDeployment(there_id));
  ASSERT_EQ(there.steps.size(), 1u);
  EXPECT_EQ(there.steps[0].id, building_there);
  EXPECT_EQ(there.steps[0].status, StepStatus::kInterrupted);
  EXPECT_EQ(there.steps[0].finished_at, now);
  EXPECT_EQ(there.steps[0].error, why);
  EXPECT_TRUE((**Await(record().GetDeployment(queued_id))).steps.empty());

  auto kept = **Await(record().GetDeployment(done_id));
  EXPECT_EQ(kept.status, DeploymentStatus::kSucceeded);
  EXPECT_EQ(kept.finished_at, done.finished_at);
  EXPECT_EQ(kept.error, "");
  // Project b is not this call's business, on either machine.
  auto b_here = **Await(record().GetDeployment(b_here_id));
  EXPECT_EQ(b_here.status, DeploymentStatus::kRunning);
  EXPECT_FALSE(b_here.finished_at.has_value());
  ASSERT_EQ(b_here.steps.size(), 1u);
  EXPECT_EQ(b_here.steps[0].status, StepStatus::kRunning);
  EXPECT_FALSE(b_here.steps[0].finished_at.has_value());
  auto b_there = **Await(record().GetDeployment(b_queued_id));
  EXPECT_EQ(b_there.status, DeploymentStatus::kQueued);
  EXPECT_EQ(b_there.error, "");

  EXPECT_EQ(*Await(record().InterruptUnfinishedOfProject(now, "a", "again")), 0);
  EXPECT_EQ(*Await(record().InterruptUnfinishedOfProject(now, "nobody", why)), 0);
  EXPECT_EQ((**Await(record().GetDeployment(here_id))).error, why) << "the first reason stays";
}

// A takeover happens while Anthill runs: pages showing the project's
// deployments hear of each one it changed (themselves or a step of theirs).
TEST_P(RecordContract, InterruptUnfinishedOfProjectAnnouncesEachDeploymentItTouched) {
  const int64_t running_id = Create(Sample("a", "m2"));
  ASSERT_TRUE(Await(record().StartStep(running_id, StepName::kBuild, Now())).ok());
  Deployment queued = Sample("a", "m2");
  queued.status = DeploymentStatus::kQueued;
  const int64_t queued_id = Create(queued);
  Create(Sample("b", "m2"));

  // Subscribed once the rows are made, so only the interrupt is heard.
  ChangeFeed pg_feed;
  ChangeFeed& feed = sqlite_ ? sqlite_->changes() : pg_feed;
  std::vector<int64_t> heard;
  auto subscription = feed.Subscribe([&](const Change& c) {
    if (c.kind == Change::Kind::kDeployment) heard.push_back(c.deployment_id);
  });
  std::unique_ptr<PgChangeListener> listener;
  if (!sqlite_) {
    listener = std::make_unique<PgChangeListener>(io_.get_executor(), conninfo_, pg_feed);
    listener->Start();
    ASSERT_TRUE(RunUntil([&] { return listener->listening(); }))
        << listener->last_error().message();
  }

  auto n = Await(record().InterruptUnfinishedOfProject(Now(), "a", "taken over"));
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 2);
  ASSERT_TRUE(RunUntil([&] { return heard.size() >= 2; })) << heard.size();
  EXPECT_EQ(std::set<int64_t>(heard.begin(), heard.end()),
            (std::set<int64_t>{running_id, queued_id}));
  EXPECT_EQ(heard.size(), 2u) << "once each";
  if (listener) listener->Stop();
}

TEST_P(RecordContract, HookEventsAreStoredAndReplaysRecognised) {
  HookEvent e;
  e.received_at = FromUnixMillis(1795532458123);
  e.source = "github";
  e.delivery_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
  e.event = "push";
  e.repository = "org/hello";
  e.ref = "refs/heads/main";
  e.commit = std::string(40, 'a');
  e.pusher = "alice";
  e.body = std::string("{\"ref\":\"refs/heads/main\"}\0tail", 29);
  auto first = Await(record().RecordHookEvent(e));
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(first->has_value());
  auto replay = Await(record().RecordHookEvent(e));
  ASSERT_TRUE(replay.ok()) << replay.error();
  EXPECT_FALSE(replay->has_value()) << "same delivery id is a replay";
  e.source = "gitea";  // the same id from another forge is another delivery
  auto other = Await(record().RecordHookEvent(e));
  ASSERT_TRUE(other.ok() && other->has_value()) << other.error();
  e.delivery_id.clear();  // no id: never deduplicated
  ASSERT_TRUE(Await(record().RecordHookEvent(e))->has_value());
  ASSERT_TRUE(Await(record().RecordHookEvent(e))->has_value());
  ASSERT_TRUE(Await(record().SetHookVerdict(**first, "deployment 3 queued for hello")).ok());

  auto list = Await(record().ListHookEvents(10, 0));
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->size(), 4u);
  const HookEvent& stored = list->back();
  EXPECT_EQ(stored.id, **first);
  EXPECT_EQ(stored.verdict, "deployment 3 queued for hello");
  EXPECT_EQ(stored.source, "github");
  EXPECT_EQ(stored.delivery_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
  EXPECT_EQ(stored.event, "push");
  EXPECT_EQ(stored.repository, "org/hello");
  EXPECT_EQ(stored.ref, "refs/heads/main");
  EXPECT_EQ(stored.commit, std::string(40, 'a'));
  EXPECT_EQ(stored.pusher, "alice");
  EXPECT_EQ(stored.received_at, e.received_at);
  EXPECT_EQ(stored.body, "") << "lists come without bodies";
  EXPECT_EQ(Await(record().ListHookEvents(10, list->front().id))->size(), 3u);
  EXPECT_EQ(Await(record().ListHookEvents(2, 0))->size(), 2u);
}

TEST_P(RecordContract, CountsDeploymentsByProjectAndStatus) {
  for (const char* p : {"hello", "hello", "other"}) {
    Deployment d = Sample(p);
    d.status = DeploymentStatus::kSucceeded;
    Create(d);
  }
  Deployment failed = Sample("hello");
  failed.status = DeploymentStatus::kFailed;
  Create(failed);
  auto counts = Await(record().CountDeployments());
  ASSERT_TRUE(counts.ok()) << counts.error();
  ASSERT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0].project, "hello");
  EXPECT_EQ((*counts)[0].status, DeploymentStatus::kFailed);
  EXPECT_EQ((*counts)[0].count, 1);
  EXPECT_EQ((*counts)[1].status, DeploymentStatus::kSucceeded);
  EXPECT_EQ((*counts)[1].count, 2);
  EXPECT_EQ((*counts)[2].project, "other");
  EXPECT_EQ((*counts)[2].count, 1);
}

// Issue 11, item 4: a commit that failed stays pinned until lifted, and
// pinning it again keeps the first reason.
TEST_P(RecordContract, PinsAreASetPerProjectNewestFirstKeepingTheFirstReason) {
  const std::string a(40, 'a'), b(40, 'b'), c(40, 'c');
  for (const Pin& pin : {Pin{"hello", a, "failed in deployment 1", FromUnixMillis(1)},
                         Pin{"hello", b, "rolled back from", FromUnixMillis(2)},
                         Pin{"hello", c, "cancelled", FromUnixMillis(2)},  // same time, added later
                         Pin{"hello", a, "again", FromUnixMillis(3)},
                         Pin{"other", a, "elsewhere", FromUnixMillis(3)}}) {
    ASSERT_TRUE(Await(record().AddPin(pin)).ok());
  }
  auto pins = Await(record().ListPins("hello"));
  ASSERT_TRUE(pins.ok()) << pins.error();
  std::vector<std::string> commits;
  for (const auto& pin : *pins) commits.push_back(pin.commit);
  EXPECT_EQ(commits, (std::vector<std::string>{c, b, a}));
  EXPECT_EQ(pins->back().reason, "failed in deployment 1");
  EXPECT_EQ(pins->back().at, FromUnixMillis(1));
  ASSERT_TRUE(Await(record().RemovePin("hello", a)).ok());
  ASSERT_TRUE(Await(record().RemovePin("hello", "not pinned")).ok());
  EXPECT_EQ(Await(record().ListPins("hello"))->size(), 2u);
  EXPECT_EQ(Await(record().ListPins("other"))->size(), 1u);
}

TEST_P(RecordContract, TheRecordSurvivesReopening) {
  const int64_t id = Create(Sample("hello"));
  ASSERT_TRUE(Await(record().StartStep(id, StepName::kFetch, FromUnixMillis(5))).ok());
  ASSERT_TRUE(
      Await(record().AddPin({"hello", std::string(40, 'a'), "failed", FromUnixMillis(1)})).ok());
  sqlite_.reset();
  pg_.reset();
  Open();
  ASSERT_NE(record_, nullptr);
  auto got = Await(record().GetDeployment(id));
  ASSERT_TRUE(got.ok() && got->has_value()) << got.error();
  EXPECT_EQ((*got)->project, "hello");
  EXPECT_EQ((*got)->steps.size(), 1u);
  EXPECT_EQ(Await(record().ListPins("hello"))->size(), 1u);
  EXPECT_EQ(Create(Sample("hello")), id + 1);  // ids go on where they were
}

}  // namespace
}  // namespace anthill::store
