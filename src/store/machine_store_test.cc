// Per-machine state keyed by (machine, project), and the migration that
// gave the tables their machine column (issue 13, item 3).
#include <gtest/gtest.h>

#include "store/sqlite.h"
#include "store/sqlite_schema.h"
#include "store/store.h"
#include "testing/testing.h"

namespace anthill::store {
namespace {

Process Proc(const std::string& project, int64_t pid, const std::string& release) {
  return Process{project,
                 pid,
                 pid,
                 1000 + static_cast<unsigned long long>(pid),
                 release,
                 "main-" + release,
                 std::string(40, 'a'),
                 7,
                 FromUnixMillis(5)};
}

std::unique_ptr<LocalStore> OpenFor(const std::filesystem::path& file, std::string_view machine) {
  auto s = OpenSqlite(file, machine);
  EXPECT_TRUE(s.ok()) << s.error();
  return s.ok() ? std::move(s.value()) : nullptr;
}

Deployment Running(const std::string& project, const std::string& machine) {
  Deployment d;
  d.project = project;
  d.machine = machine;
  d.to_version = "main-22222222";
  d.to_commit = std::string(40, '2');
  d.status = DeploymentStatus::kRunning;
  d.started_at = FromUnixMillis(1795532458123);
  return d;
}

class MachineStoreTest : public ::testing::Test {
 protected:
  std::filesystem::path file() const { return dir_ / "anthill.db"; }
  testing::TempDir dir_;
};

// Two machines recording the same project in one database (as a fleet's
// agents would) each see only their own program, candidate, hold and events.
TEST_F(MachineStoreTest, EachMachineSeesOnlyItsOwnState) {
  auto web1 = OpenFor(file(), "web1");
  auto web2 = OpenFor(file(), "web2");
  ASSERT_TRUE(web1 && web2);
  EXPECT_EQ(web1->machine(), "web1");

  ASSERT_TRUE(web1->PutProcess(Proc("hello", 11, "r1")).ok());
  EXPECT_FALSE(web2->GetProcess("hello")->has_value());
  ASSERT_TRUE(web2->PutProcess(Proc("hello", 22, "r2")).ok());
  EXPECT_EQ((*web1->GetProcess("hello"))->pid, 11);
  EXPECT_EQ((*web2->GetProcess("hello"))->pid, 22);
  ASSERT_EQ(web1->ListProcesses()->size(), 1u);
  EXPECT_EQ(web1->ListProcesses()->front().release, "r1");

  // A candidate promoted on one machine leaves the other's alone.
  ASSERT_TRUE(web1->PutCandidate(Proc("hello", 12, "r3")).ok());
  ASSERT_TRUE(web2->PutCandidate(Proc("hello", 23, "r3")).ok());
  ASSERT_TRUE(web1->PromoteCandidate("hello").ok());
  EXPECT_EQ((*web1->GetProcess("hello"))->pid, 12);
  EXPECT_FALSE(web1->GetCandidate("hello")->has_value());
  EXPECT_EQ((*web2->GetProcess("hello"))->pid, 22);
  EXPECT_EQ((*web2->GetCandidate("hello"))->pid, 23);
  ASSERT_TRUE(web2->DeleteCandidate("hello").ok());
  ASSERT_TRUE(web2->DeleteProcess("hello").ok());
  EXPECT_TRUE(web1->GetProcess("hello")->has_value());

  ASSERT_TRUE(web1->SetHeld("hello", true).ok());
  EXPECT_TRUE(*web1->IsHeld("hello"));
  EXPECT_FALSE(*web2->IsHeld("hello"));
  ASSERT_TRUE(web2->SetHeld("hello", true).ok());
  ASSERT_TRUE(web2->SetHeld("hello", false).ok());
  EXPECT_TRUE(*web1->IsHeld("hello"));

  ProgramEvent e{0, "hello", FromUnixMillis(1000), ProgramEventKind::kRestarted, "main-r1", 11, ""};
  ASSERT_TRUE(web1->AddProgramEvent(e).ok());
  ASSERT_TRUE(web1->AddProgramEvent(e).ok());
  ASSERT_TRUE(web2->AddProgramEvent(e).ok());
  EXPECT_EQ(web1->ListProgramEvents("hello", 10)->size(), 2u);
  EXPECT_EQ(web1->ListProgramEvents("", 10)->size(), 2u);
  EXPECT_EQ(web2->ListProgramEvents("", 10)->size(), 1u);
  EXPECT_EQ(*web1->CountProgramEvents("hello", ProgramEventKind::kRestarted, FromUnixMillis(0)), 2);
  EXPECT_EQ(*web2->CountProgramEvents("hello", ProgramEventKind::kRestarted, FromUnixMillis(0)), 1);
}

// The record is shared: both machines' deployments are listed; but at
// start-up a machine marks only its own unfinished deployments (and their
// steps) interrupted: the other's are still running there.
TEST_F(MachineStoreTest, InterruptUnfinishedTouchesOnlyThisMachinesRows) {
  auto web1 = OpenFor(file(), "web1");
  ASSERT_TRUE(web1);
  const int64_t mine = *web1->CreateDeployment(Running("hello", "web1"));
  const int64_t theirs = *web1->CreateDeployment(Running("hello", "web2"));
  const int64_t queued_theirs = [&] {
    Deployment d = Running("hello", "web2");
    d.status = DeploymentStatus::kQueued;
    return *web1->CreateDeployment(d);
  }();
  ASSERT_TRUE(web1->StartStep(mine, StepName::kBuild, FromUnixMillis(1795532459000)).ok());
  ASSERT_TRUE(web1->StartStep(theirs, StepName::kBuild, FromUnixMillis(1795532459000)).ok());

  auto n = web1->InterruptUnfinished(FromUnixMillis(1795532460000), "anthill stopped");
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 1);
  const Deployment m = **web1->GetDeployment(mine);
  EXPECT_EQ(m.status, DeploymentStatus::kInterrupted);
  EXPECT_EQ(m.steps.at(0).status, StepStatus::kInterrupted);
  const Deployment t = **web1->GetDeployment(theirs);
  EXPECT_EQ(t.status, DeploymentStatus::kRunning);
  EXPECT_FALSE(t.finished_at.has_value());
  EXPECT_EQ(t.steps.at(0).status, StepStatus::kRunning);
  EXPECT_EQ((**web1->GetDeployment(queued_theirs)).status, DeploymentStatus::kQueued);
  EXPECT_EQ(web1->ListDeployments({})->size(), 3u);

  web1.reset();
  auto web2 = OpenFor(file(), "web2");
  ASSERT_TRUE(web2);
  EXPECT_EQ(*web2->InterruptUnfinished(FromUnixMillis(1795532461000), "anthill stopped"), 2);
  EXPECT_EQ((**web2->GetDeployment(theirs)).steps.at(0).status, StepStatus::kInterrupted);
}

// A database from before per-machine keys (schema 4): its rows were this
// machine's, so the first open that names the machine takes them over, with
// every field; an open under another name does not see them, and is told.
TEST_F(MachineStoreTest, RowsFromBeforeMachineKeysAreAdoptedByTheFirstNamedOpen) {
  {
    auto db = Db::Open(file().string());
    ASSERT_TRUE(db.ok()) << db.error();
    ASSERT_TRUE(MigrateSchema(**db, 4).ok());
    Status s = (*db)->Exec(
        "INSERT INTO processes VALUES ('hello', 11, 11, 1011, 'r1', 'main-r1', 'aaaa', 7, 5);"
        "INSERT INTO candidates VALUES ('hello', 12, 12, 1012, 'r2', 'main-r2', 'bbbb', 8, 6);"
        "INSERT INTO held_projects VALUES ('other');"
        "INSERT INTO program_events (project, at, kind, version, pid, detail) "
        "  VALUES ('hello', 1000, 'exited', 'main-r1', 11, 'exit 1');"
        "INSERT INTO deployments (project, machine, trigger, status, started_at) "
        "  VALUES ('hello', 'web1', 'poll', 'running', 1);");
    ASSERT_TRUE(s.ok()) << s.message();
  }
  auto web1 = OpenFor(file(), "web1");
  ASSERT_TRUE(web1);
  auto p = web1->GetProcess("hello");
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->pid, 11);
  EXPECT_EQ((*p)->pgid, 11);
  EXPECT_EQ((*p)->start_ticks, 1011u);
  EXPECT_EQ((*p)->release, "r1");
  EXPECT_EQ((*p)->version, "main-r1");
  EXPECT_EQ((*p)->commit, "aaaa");
  EXPECT_EQ((*p)->deployment_id, 7);
  EXPECT_EQ((*p)->started_at, FromUnixMillis(5));
  EXPECT_EQ((*web1->GetCandidate("hello"))->release, "r2");
  EXPECT_TRUE(*web1->IsHeld("other"));
  ASSERT_EQ(web1->ListProgramEvents("hello", 10)->size(), 1u);
  EXPECT_EQ(web1->ListProgramEvents("hello", 10)->front().detail, "exit 1");
  web1.reset();

  // Reopened under the same name: nothing left to adopt, all still there.
  web1 = OpenFor(file(), "web1");
  EXPECT_EQ((*web1->GetProcess("hello"))->pid, 11);
  web1.reset();

  // Renamed: a new machine, which does not see (or re-adopt) web1's program.
  auto renamed = OpenFor(file(), "web9");
  ASSERT_TRUE(renamed);
  EXPECT_FALSE(renamed->GetProcess("hello")->has_value());
  EXPECT_FALSE(*renamed->IsHeld("other"));
  EXPECT_TRUE(renamed->ListProgramEvents("", 10)->empty());
  renamed.reset();
  auto db = Db::Open(file().string());
  ASSERT_TRUE(db.ok());
  auto others = OtherMachines(**db, "web9");
  ASSERT_TRUE(others.ok()) << others.error();
  EXPECT_EQ(*others, std::vector<std::string>{"web1"});
  EXPECT_TRUE(OtherMachines(**db, "web1")->empty());
}

// An open without a machine (a test, a tool) writes rows under ''; the next
// named open adopts them, except where the machine has its own row.
TEST_F(MachineStoreTest, AnUnnamedOpensRowsGoToTheNextNamedOpenWhichKeepsItsOwn) {
  auto web1 = OpenFor(file(), "web1");
  ASSERT_TRUE(web1 && web1->PutProcess(Proc("hello", 11, "r1")).ok());
  web1.reset();
  auto unnamed = OpenFor(file(), "");
  ASSERT_TRUE(unnamed);
  EXPECT_FALSE(unnamed->GetProcess("hello")->has_value());
  ASSERT_TRUE(unnamed->PutProcess(Proc("hello", 99, "stale")).ok());
  ASSERT_TRUE(unnamed->PutProcess(Proc("other", 33, "r3")).ok());
  ASSERT_TRUE(unnamed->SetHeld("other", true).ok());
  unnamed.reset();

  web1 = OpenFor(file(), "web1");
  ASSERT_TRUE(web1);
  EXPECT_EQ((*web1->GetProcess("hello"))->pid, 11);
  EXPECT_EQ((*web1->GetProcess("other"))->pid, 33);
  EXPECT_TRUE(*web1->IsHeld("other"));
  web1.reset();
  unnamed = OpenFor(file(), "");
  EXPECT_TRUE(unnamed->ListProcesses()->empty()) << "adopted or dropped, none left unnamed";
}

}  // namespace
}  // namespace anthill::store
