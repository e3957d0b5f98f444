#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "testing/testing.h"

namespace anthill::store {
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

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqlite(dir_ / "anthill.db", "m1");  // the machine of Sample()
    ASSERT_TRUE(s.ok()) << s.error();
    store_ = std::move(s.value());
  }
  testing::TempDir dir_;
  std::unique_ptr<LocalStore> store_;
};

TEST_F(StoreTest, DeploymentAndStepsRoundTrip) {
  Deployment d = Sample("hello");
  auto id = store_->CreateDeployment(d);
  ASSERT_TRUE(id.ok()) << id.error();
  auto step = store_->StartStep(*id, StepName::kBuild, FromUnixMillis(1795532459000));
  ASSERT_TRUE(step.ok());
  ASSERT_TRUE(store_
                  ->FinishStep(*step, StepStatus::kFailed, FromUnixMillis(1795532460500),
                               "build failed (exit 2)")
                  .ok());
  d.id = *id;
  d.status = DeploymentStatus::kFailed;
  d.finished_at = FromUnixMillis(1795532460600);
  d.error = "build failed (exit 2)";
  d.release = "r1";
  ASSERT_TRUE(store_->UpdateDeployment(d).ok());

  auto got = store_->GetDeployment(*id);
  ASSERT_TRUE(got.ok() && got->has_value());
  const Deployment& g = **got;
  EXPECT_EQ(g.project, "hello");
  EXPECT_EQ(g.machine, "m1");
  EXPECT_EQ(g.from_version, "main-11111111");
  EXPECT_EQ(g.to_version, "main-22222222");
  EXPECT_EQ(g.from_commit, std::string(40, '1'));
  EXPECT_EQ(g.to_commit, std::string(40, '2'));
  EXPECT_EQ(g.ref, "refs/heads/main");
  EXPECT_EQ(g.trigger, Trigger::kPoll);
  EXPECT_EQ(g.actor, "poll");
  EXPECT_EQ(g.status, DeploymentStatus::kFailed);
  EXPECT_EQ(g.started_at, d.started_at);
  EXPECT_EQ(g.finished_at, d.finished_at);
  EXPECT_EQ(g.error, "build failed (exit 2)");
  EXPECT_EQ(g.release, "r1");
  ASSERT_EQ(g.steps.size(), 1u);
  EXPECT_EQ(g.steps[0].name, StepName::kBuild);
  EXPECT_EQ(g.steps[0].status, StepStatus::kFailed);
  EXPECT_EQ(g.steps[0].finished_at, FromUnixMillis(1795532460500));
  EXPECT_EQ(g.steps[0].error, "build failed (exit 2)");
  auto none = store_->GetDeployment(*id + 100);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(StoreTest, ListIsNewestFirstFilteredAndPagedByKey) {
  for (int i = 0; i < 10; ++i) {
    auto id = store_->CreateDeployment(Sample(i % 2 ? "odd" : "even", i < 5 ? "m1" : "m2"));
    ASSERT_TRUE(id.ok());
    (void)store_->StartStep(*id, StepName::kFetch, Now());
  }
  DeploymentFilter f;
  f.limit = 3;
  auto page = store_->ListDeployments(f);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].id, 10);
  EXPECT_EQ((*page)[2].id, 8);
  EXPECT_EQ((*page)[0].steps.size(), 1u);
  f.before_id = 8;
  page = store_->ListDeployments(f);
  EXPECT_EQ((*page)[0].id, 7);

  struct Case {
    std::string project, machine;
    std::vector<int64_t> ids;
  } cases[] = {{"odd", "", {10, 8, 6, 4, 2}}, {"", "m1", {5, 4, 3, 2, 1}}, {"even", "m2", {9, 7}}};
  for (const auto& c : cases) {
    DeploymentFilter g;
    g.project = c.project;
    g.machine = c.machine;
    auto list = store_->ListDeployments(g);
    ASSERT_TRUE(list.ok());
    std::vector<int64_t> ids;
    for (const auto& d : *list) ids.push_back(d.id);
    EXPECT_EQ(ids, c.ids) << c.project << "/" << c.machine;
  }
  DeploymentFilter big;
  big.limit = 100000;
  EXPECT_EQ(store_->ListDeployments(big)->size(), 10u);
  big.limit = 0;
  EXPECT_EQ(store_->ListDeployments(big)->size(), 1u);
}

TEST_F(StoreTest, PagingBackWithAfterAndNeighbours) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_->CreateDeployment(Sample(i % 2 ? "odd" : "even")).ok());
  }
  auto ids = [](const std::vector<Deployment>& list) {
    std::vector<int64_t> out;
    for (const auto& d : list) out.push_back(d.id);
    return out;
  };
  DeploymentFilter f;
  f.limit = 3;
  f.after_id = 4;  // the page just newer than id 4: 7, 6, 5 (not 10, 9, 8)
  EXPECT_EQ(ids(*store_->ListDeployments(f)), (std::vector<int64_t>{7, 6, 5}));
  f.project = "odd";  // ids 2, 4, 6, 8, 10
  EXPECT_EQ(ids(*store_->ListDeployments(f)), (std::vector<int64_t>{10, 8, 6}));
  f.after_id = 0;
  f.status = DeploymentStatus::kFailed;
  EXPECT_TRUE(store_->ListDeployments(f)->empty());

  auto n = store_->DeploymentNeighbours(6, "odd");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->previous, 4);
  EXPECT_EQ(n->next, 8);
  n = store_->DeploymentNeighbours(1, "even");
  EXPECT_EQ(n->previous, 0);
  EXPECT_EQ(n->next, 3);
  EXPECT_EQ(store_->DeploymentNeighbours(10, "odd")->next, 0);
}

TEST_F(StoreTest, EveryCommittedChangeIsPublished) {
  std::vector<std::string> seen;
  auto sub = store_->changes().Subscribe([&](const Change& c) {
    seen.push_back(c.kind == Change::Kind::kDeployment ? "d" + std::to_string(c.deployment_id)
                                                       : "p:" + c.project);
  });
  Deployment d = Sample("hello");
  d.id = *store_->CreateDeployment(d);
  auto step = store_->StartStep(d.id, StepName::kBuild, Now());
  ASSERT_TRUE(store_->FinishStep(*step, StepStatus::kSucceeded, Now(), "").ok());
  d.status = DeploymentStatus::kSucceeded;
  ASSERT_TRUE(store_->UpdateDeployment(d).ok());
  Process p;
  p.project = "hello";
  p.pid = 1;
  ASSERT_TRUE(store_->PutProcess(p).ok());
  ProgramEvent e;
  e.project = "hello";
  e.kind = ProgramEventKind::kExited;
  ASSERT_TRUE(store_->AddProgramEvent(e).ok());
  ASSERT_TRUE(store_->DeleteProcess("hello").ok());
  ASSERT_TRUE(store_->SetHeld("hello", true).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"d1", "d1", "d1", "d1", "p:hello", "p:hello", "p:hello",
                                            "p:hello"}));
  // A failed write publishes nothing; an ended subscription hears nothing.
  seen.clear();
  EXPECT_FALSE(store_->StartStep(999, StepName::kBuild, Now()).ok());
  EXPECT_TRUE(seen.empty());
  sub.Reset();
  (void)store_->CreateDeployment(Sample("hello"));
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(store_->changes().subscriber_count(), 0u);
}

TEST_F(StoreTest, InterruptUnfinishedTouchesOnlyUnfinishedRows) {
  Deployment done = Sample("a");
  done.status = DeploymentStatus::kSucceeded;
  done.finished_at = Now();
  auto done_id = store_->CreateDeployment(done);
  auto running_id = store_->CreateDeployment(Sample("a"));
  auto step = store_->StartStep(*running_id, StepName::kBuild, Now());
  auto n = store_->InterruptUnfinished(Now(), "anthill stopped");
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 1);
  auto r = **store_->GetDeployment(*running_id);
  EXPECT_EQ(r.status, DeploymentStatus::kInterrupted);
  EXPECT_EQ(r.error, "anthill stopped");
  EXPECT_TRUE(r.finished_at.has_value());
  EXPECT_EQ(r.steps[0].status, StepStatus::kInterrupted);
  EXPECT_EQ((**store_->GetDeployment(*done_id)).status, DeploymentStatus::kSucceeded);
  auto latest = store_->LatestDeployment("a", DeploymentStatus::kSucceeded);
  EXPECT_EQ((*latest)->id, *done_id);
  EXPECT_EQ((*store_->LatestDeployment("a"))->id, *running_id);
  EXPECT_FALSE(store_->LatestDeployment("b")->has_value());
  (void)step;
}

TEST_F(StoreTest, ProcessesArePutReplacedAndDeleted) {
  Process p{"hello", 123, 123, 456789, "r1", "main-1", std::string(40, 'a'), 7, FromUnixMillis(5)};
  ASSERT_TRUE(store_->PutProcess(p).ok());
  p.pid = 124;
  ASSERT_TRUE(store_->PutProcess(p).ok());
  auto got = store_->GetProcess("hello");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->pid, 124);
  EXPECT_EQ((*got)->start_ticks, 456789u);
  EXPECT_EQ((*got)->commit, std::string(40, 'a'));
  EXPECT_EQ(store_->ListProcesses()->size(), 1u);
  ASSERT_TRUE(store_->DeleteProcess("hello").ok());
  EXPECT_FALSE(store_->GetProcess("hello")->has_value());
}

TEST_F(StoreTest, ACandidateIsPromotedToTheRecordedProcessInOneStep) {
  Process old{"hello", 10, 10, 100, "r1", "main-1", std::string(40, 'a'), 1, FromUnixMillis(5)};
  Process fresh{"hello", 20, 20, 200, "r2", "main-2", std::string(40, 'b'), 2, FromUnixMillis(6)};
  ASSERT_TRUE(store_->PutProcess(old).ok());
  ASSERT_TRUE(store_->PutCandidate(fresh).ok());
  EXPECT_EQ((*store_->GetProcess("hello"))->pid, 10);
  EXPECT_EQ((*store_->GetCandidate("hello"))->pid, 20);
  ASSERT_TRUE(store_->PromoteCandidate("hello").ok());
  EXPECT_EQ((*store_->GetProcess("hello"))->release, "r2");
  EXPECT_FALSE(store_->GetCandidate("hello")->has_value());
  ASSERT_TRUE(store_->PutCandidate(old).ok());
  ASSERT_TRUE(store_->DeleteCandidate("hello").ok());
  EXPECT_FALSE(store_->GetCandidate("hello")->has_value());
  EXPECT_EQ((*store_->GetProcess("hello"))->release, "r2");
}

// Issue 11, item 4: every commit that failed or was rolled away from stays
// pinned, across restarts, until lifted.
TEST_F(StoreTest, PinsAreASetPerProjectThatSurvivesReopening) {
  const std::string a(40, 'a'), b(40, 'b');
  ASSERT_TRUE(store_->AddPin({"hello", a, "failed in deployment 1", FromUnixMillis(1)}).ok());
  ASSERT_TRUE(store_->AddPin({"hello", b, "rolled back from", FromUnixMillis(2)}).ok());
  ASSERT_TRUE(store_->AddPin({"hello", a, "again", FromUnixMillis(3)}).ok());
  ASSERT_TRUE(store_->AddPin({"other", a, "elsewhere", FromUnixMillis(3)}).ok());
  store_.reset();
  auto reopened = OpenSqlite(dir_ / "anthill.db");
  ASSERT_TRUE(reopened.ok());
  store_ = std::move(reopened.value());
  auto pins = store_->ListPins("hello");
  ASSERT_TRUE(pins.ok());
  ASSERT_EQ(pins->size(), 2u);
  EXPECT_EQ((*pins)[0].commit, b);
  EXPECT_EQ((*pins)[1].reason, "failed in deployment 1");
  ASSERT_TRUE(store_->RemovePin("hello", a).ok());
  EXPECT_EQ(store_->ListPins("hello")->size(), 1u);
  EXPECT_EQ(store_->ListPins("other")->size(), 1u);
}

// Issue 11, items 8 and 9: another process holding the database's write lock
// (or a full disk) left a finished deployment "running" and lost a push; the
// event loop waited 5 s on each write. Writes are kept, shown, and made later.
TEST_F(StoreTest, WritesTheDatabaseCannotTakeAreKeptShownAndMadeLater) {
  auto first = store_->CreateDeployment(Sample("hello"));
  ASSERT_TRUE(first.ok());
  Process fresh{"hello", 20, 20, 200, "r2", "main-2", std::string(40, 'b'), 2, FromUnixMillis(6)};
  ASSERT_TRUE(store_->PutCandidate(fresh).ok());
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "anthill.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  Deployment done = store_->GetDeployment(*first)->value();
  done.status = DeploymentStatus::kSucceeded;
  done.finished_at = FromUnixMillis(1795532459000);
  EXPECT_TRUE(store_->UpdateDeployment(done).ok());
  auto second = store_->CreateDeployment(Sample("hello"));  // a push, while locked
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first + 1);
  auto step = store_->StartStep(*second, StepName::kFetch, FromUnixMillis(1795532459100));
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(
      store_->FinishStep(*step, StepStatus::kFailed, FromUnixMillis(1795532459200), "no").ok());
  // A write in a transaction of its own cannot begin it now: kept as well.
  EXPECT_TRUE(store_->PromoteCandidate("hello").ok());
  EXPECT_GE(store_->pending_writes(), 4u);

  // Reads show what was written, not what the file holds yet.
  EXPECT_EQ((*store_->GetDeployment(*first))->status, DeploymentStatus::kSucceeded);
  DeploymentFilter f;
  f.project = "hello";
  auto list = store_->ListDeployments(f);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, *second);
  ASSERT_EQ((*list)[0].steps.size(), 1u);
  EXPECT_EQ((*list)[0].steps[0].error, "no");
  EXPECT_EQ((*list)[1].status, DeploymentStatus::kSucceeded);
  EXPECT_GE(store_->FlushPendingWrites(), 4u);  // still locked: still kept

  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(store_->FlushPendingWrites(), 0u);
  EXPECT_EQ((*store_->GetProcess("hello"))->pid, 20);
  EXPECT_FALSE(store_->GetCandidate("hello")->has_value());
  store_.reset();
  auto reopened = OpenSqlite(dir_ / "anthill.db");
  ASSERT_TRUE(reopened.ok());
  auto again = (*reopened)->ListDeployments(f);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[1].status, DeploymentStatus::kSucceeded);
  ASSERT_EQ((*again)[0].steps.size(), 1u);
  EXPECT_EQ((*again)[0].steps[0].status, StepStatus::kFailed);
}

TEST_F(StoreTest, DataSurvivesReopeningAndMigrationsRunOnce) {
  auto id = store_->CreateDeployment(Sample("hello"));
  ASSERT_TRUE(id.ok());
  store_.reset();
  auto again = OpenSqlite(dir_ / "anthill.db");
  ASSERT_TRUE(again.ok()) << again.error();
  auto got = (*again)->GetDeployment(*id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->project, "hello");
}

TEST_F(StoreTest, HookEventsAreStoredRawAndReplaysRecognised) {
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
  auto first = store_->RecordHookEvent(e);
  ASSERT_TRUE(first.ok()) << first.error();
  ASSERT_TRUE(first->has_value());
  auto replay = store_->RecordHookEvent(e);
  ASSERT_TRUE(replay.ok()) << replay.error();
  EXPECT_FALSE(replay->has_value()) << "same delivery id is a replay";
  e.source = "gitea";  // the same id from another forge is another delivery
  auto other = store_->RecordHookEvent(e);
  ASSERT_TRUE(other.ok() && other->has_value());
  e.delivery_id.clear();  // no id: never deduplicated
  ASSERT_TRUE(store_->RecordHookEvent(e)->has_value());
  ASSERT_TRUE(store_->RecordHookEvent(e)->has_value());
  ASSERT_TRUE(store_->SetHookVerdict(**first, "deployment 3 queued for hello").ok());
  auto list = store_->ListHookEvents(10);
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ(list->back().id, **first);
  EXPECT_EQ(list->back().verdict, "deployment 3 queued for hello");
  EXPECT_EQ(list->back().pusher, "alice");
  EXPECT_EQ(list->back().received_at, e.received_at);
  EXPECT_EQ(store_->ListHookEvents(10, list->front().id)->size(), 3u);
}

TEST_F(StoreTest, CountsDeploymentsByProjectAndStatus) {
  for (const char* p : {"hello", "hello", "other"}) {
    Deployment d = Sample(p);
    d.status = DeploymentStatus::kSucceeded;
    ASSERT_TRUE(store_->CreateDeployment(d).ok());
  }
  Deployment failed = Sample("hello");
  failed.status = DeploymentStatus::kFailed;
  ASSERT_TRUE(store_->CreateDeployment(failed).ok());
  auto counts = store_->CountDeployments();
  ASSERT_TRUE(counts.ok()) << counts.error();
  ASSERT_EQ(counts->size(), 3u);
  EXPECT_EQ((*counts)[0].project, "hello");
  EXPECT_EQ((*counts)[0].status, DeploymentStatus::kFailed);
  EXPECT_EQ((*counts)[0].count, 1);
  EXPECT_EQ((*counts)[1].count, 2);
  EXPECT_EQ((*counts)[2].project, "other");
}

TEST_F(StoreTest, ProgramEventsAndHolds) {
  ProgramEvent e{0,
                 "hello",
                 FromUnixMillis(1000),
                 ProgramEventKind::kExited,
                 "main-aaaaaaaa",
                 42,
                 "killed by SIGSEGV after 3.0 s up"};
  ASSERT_TRUE(store_->AddProgramEvent(e).ok());
  e.kind = ProgramEventKind::kRestarted;
  e.at = FromUnixMillis(2000);
  e.pid = 43;
  ASSERT_TRUE(store_->AddProgramEvent(e).ok());
  e.project = "other";
  ASSERT_TRUE(store_->AddProgramEvent(e).ok());
  auto list = store_->ListProgramEvents("hello", 10);
  ASSERT_TRUE(list.ok()) << list.error();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].kind, ProgramEventKind::kRestarted);
  EXPECT_EQ((*list)[1].detail, "killed by SIGSEGV after 3.0 s up");
  EXPECT_EQ(store_->ListProgramEvents("", 10)->size(), 3u);
  EXPECT_EQ(*store_->CountProgramEvents("hello", ProgramEventKind::kRestarted, FromUnixMillis(0)),
            1);
  EXPECT_EQ(
      *store_->CountProgramEvents("hello", ProgramEventKind::kRestarted, FromUnixMillis(2001)), 0);

  EXPECT_FALSE(*store_->IsHeld("hello"));
  ASSERT_TRUE(store_->SetHeld("hello", true).ok());
  ASSERT_TRUE(store_->SetHeld("hello", true).ok());
  EXPECT_TRUE(*store_->IsHeld("hello"));
  EXPECT_FALSE(*store_->IsHeld("other"));
  ASSERT_TRUE(store_->SetHeld("hello", false).ok());
  EXPECT_FALSE(*store_->IsHeld("hello"));
}

TEST(StoreOpen, ErrorNamesTheFile) {
  auto s = OpenSqlite("/no/such/dir/anthill.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().rfind("cannot open database /no/such/dir/anthill.db: ", 0), 0u) << s.error();
}

}  // namespace
}  // namespace anthill::store
