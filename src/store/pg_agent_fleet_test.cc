// A fleet's agents in PostgreSQL, as orchestrators and agents use them: an
// agent added, its token checked, revoked and given a new one; desired
// states under per-machine generations, and the wait for them woken by
// another orchestrator's change; reports applied once, their steps made and
// ended by key in any order, a step of an unknown deployment dropped; a
// deployment's machines; bytes that are not UTF-8. Against a real
// PostgreSQL 15 (testing::Postgres), a fresh database per test.
#include "store/pg_agent_fleet.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <set>

#include "store/change_feed.h"
#include "store/pg_change_listener.h"
#include "store/pg_connection.h"
#include "store/pg_loop_test.h"
#include "store/pg_record_store.h"

namespace anthill::store {

namespace {

namespace asio = boost::asio;
using FleetPtr = std::unique_ptr<PgAgentFleet>;
using Clock = std::chrono::steady_clock;

const std::string kTokenA(64, 'a');
const std::string kTokenB = std::string(63, 'b') + "c";
const std::string kFffd = "\xEF\xBF\xBD";
const TimePoint kStart = FromUnixMillis(1795532458123);
const TimePoint kEnd = FromUnixMillis(1795532461456);

AgentStep StepOf(const std::string& key, int64_t deployment_id, StepStatus status) {
  AgentStep s;
  s.key = key;
  s.deployment_id = deployment_id;
  s.name = StepName::kDownload;
  s.status = status;
  s.started_at = kStart;
  if (status != StepStatus::kRunning) s.finished_at = kEnd;
  return s;
}

std::string Describe(const Change& c) {  // "d42", "p:hello"
  return c.kind == Change::Kind::kDeployment ? "d" + std::to_string(c.deployment_id)
                                             : "p:" + c.project;
}

class PgAgentFleetTest : public PgLoopTest {
 protected:
  // A fleet as one orchestrator opens it.
  FleetPtr Open() {
    FleetPtr fleet;
    Run([&]() -> asio::awaitable<void> {
      auto executor = io_.get_executor();
      const PgAgentFleet::Options options;
      auto opened = co_await PgAgentFleet::Open(executor, conninfo_, options);
      EXPECT_TRUE(opened.ok()) << opened.error();
      if (opened.ok()) fleet = std::move(*opened);
    });
    return fleet;
  }

  // The record beside it, for deployments and the steps agents report.
  std::unique_ptr<PgRecordStore> OpenRecord() {
    std::unique_ptr<PgRecordStore> record;
    Run([&]() -> asio::awaitable<void> {
      auto executor = io_.get_executor();
      const std::string machine = "orchestrator-1";
      auto opened = co_await PgRecordStore::Open(executor, conninfo_, machine);
      EXPECT_TRUE(opened.ok()) << opened.error();
      if (opened.ok()) record = std::move(*opened);
    });
    return record;
  }

  // A deployment of `project`; its id.
  int64_t MakeDeployment(PgRecordStore& record, const std::string& project) {
    int64_t id = 0;
    Run([&]() -> asio::awaitable<void> {
      Deployment d;
      d.project = project;
      d.machine = "orchestrator-1";
      d.status = DeploymentStatus::kRunning;
      d.started_at = kStart;
      auto made = co_await record.CreateDeployment(d);
      EXPECT_TRUE(made.ok()) << made.error();
      id = made.ok() ? *made : 0;
    });
    return id;
  }

  // What the report tests start from: a fleet with `agents` registered
  // (kTokenA), the record beside it, and a deployment of project hello.
  struct Reporting {
    FleetPtr fleet;
    std::unique_ptr<PgRecordStore> record;
    int64_t deployment = 0;
    bool ok() const { return fleet && record && deployment > 0; }
  };
  Reporting OpenReporting(const std::vector<std::string>& agents) {
    Reporting r;
    r.fleet = Open();
    r.record = OpenRecord();
    if (!r.fleet || !r.record) return r;
    AddAgents(*r.fleet, agents);
    r.deployment = MakeDeployment(*r.record, "hello");
    return r;
  }

  // Registers each of `names` with kTokenA.
  void AddAgents(PgAgentFleet& fleet, const std::vector<std::string>& names) {
    Run([&]() -> asio::awaitable<void> {
      for (const auto& name : names) {
        auto added = co_await fleet.AddAgent(name, kTokenA);
        EXPECT_TRUE(added.ok()) << added.message();
      }
    });
  }

  // Runs one statement on a connection of its own: the test's view of the
  // database. A string_view, so that a call with a literal makes no
  // std::string inside the caller's co_await (GCC 12).
  asio::awaitable<PgResult> Sql(std::string_view statement, const PgParams& params = kNone) {
    auto executor = io_.get_executor();
    auto conn = co_await PgConnection::Connect(executor, conninfo_);
    EXPECT_TRUE(conn.ok()) << conn.error();
    if (!conn.ok()) co_return PgResult{};
    std::string sql(statement);
    auto result = co_await (*conn)->Query(sql, params);
    EXPECT_TRUE(result.ok()) << sql << ": " << result.error();
    co_return result.ok() ? std::move(*result) : PgResult{};
  }
  // The one cell of a statement that returns one.
  std::string Cell(std::string_view statement) {
    std::string out;
    Run([&]() -> asio::awaitable<void> {
      auto got = co_await Sql(statement);
      EXPECT_EQ(got.rows.size(), 1u) << statement;
      if (got.rows.size() == 1) out = got.rows[0].at(0).value_or("NULL");
    });
    return out;
  }

  // Starts `wait` on the loop and returns a flag set when it returns, with
  // how long it took.
  struct Waited {
    bool done = false;
    Clock::duration took{};
  };
  std::shared_ptr<Waited> Spawn(std::function<asio::awaitable<void>()> wait) {
    auto waited = std::make_shared<Waited>();
    auto run = [wait = std::move(wait), waited]() -> asio::awaitable<void> {
      const auto start = Clock::now();
      co_await wait();
      waited->took = Clock::now() - start;
      waited->done = true;
    };
    asio::co_spawn(io_, std::move(run), asio::detached);
    return waited;
  }

  static inline const PgParams kNone;
};

TEST_F(PgAgentFleetTest, AnAgentIsAddedCheckedRevokedAndAddedAgainWithANewToken) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1", web2 = "web-2";
    auto added = co_await fleet->AddAgent(web1, kTokenA);
    EXPECT_TRUE(added.ok()) << added.message();
    auto right = co_await fleet->CheckToken(web1, kTokenA);
    EXPECT_TRUE(right.ok() && *right);
    auto wrong = co_await fleet->CheckToken(web1, kTokenB);
    EXPECT_TRUE(wrong.ok() && !*wrong);
    auto other = co_await fleet->CheckToken(web2, kTokenA);
    EXPECT_TRUE(other.ok() && !*other) << "web-2 is not registered";
    const std::string short_digest = "aaaa";
    auto truncated = co_await fleet->CheckToken(web1, short_digest);
    EXPECT_TRUE(truncated.ok() && !*truncated);

    auto again = co_await fleet->AddAgent(web1, kTokenB);
    EXPECT_EQ(again.code(), StatusCode::kConflict);
    EXPECT_EQ(again.message(),
              "agent fleet: agent web-1 is registered already; revoke it to give it a new token");
    auto still = co_await fleet->CheckToken(web1, kTokenA);
    EXPECT_TRUE(still.ok() && *still) << "a refused add keeps the old token";

    auto revoked = co_await fleet->RevokeAgent(web1);
    EXPECT_TRUE(revoked.ok()) << revoked.message();
    auto refused = co_await fleet->CheckToken(web1, kTokenA);
    EXPECT_TRUE(refused.ok() && !*refused) << "a revoked agent's token is refused";
    auto listed = co_await fleet->Agents();
    EXPECT_TRUE(listed.ok() && listed->size() == 1u) << listed.error();
    if (listed.ok() && listed->size() == 1u) {
      EXPECT_EQ(listed->at(0).name, "web-1");
      EXPECT_TRUE(listed->at(0).revoked_at.has_value());
      EXPECT_FALSE(listed->at(0).last_seen_at.has_value());
    }

    auto readded = co_await fleet->AddAgent(web1, kTokenB);
    EXPECT_TRUE(readded.ok()) << readded.message();
    auto new_token = co_await fleet->CheckToken(web1, kTokenB);
    EXPECT_TRUE(new_token.ok() && *new_token);
    auto old_token = co_await fleet->CheckToken(web1, kTokenA);
    EXPECT_TRUE(old_token.ok() && !*old_token);
    auto after = co_await fleet->Agents();
    EXPECT_TRUE(after.ok() && after->size() == 1u && !after->at(0).revoked_at);

    auto unknown = co_await fleet->RevokeAgent(web2);
    EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
    EXPECT_EQ(unknown.message(), "agent fleet: no agent named 'web-2'");
    const std::string bad_name = "web 1/..";
    auto bad = co_await fleet->AddAgent(bad_name, kTokenA);
    EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.message(),
              "agent fleet: add agent: 'web 1/..' is not a name of 1 to 253 of [A-Za-z0-9._-]");
    const std::string upper(64, 'A');
    auto bad_digest = co_await fleet->AddAgent(web2, upper);
    EXPECT_EQ(bad_digest.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad_digest.message(),
              "agent fleet: add agent web-2: a token's SHA-256 is 64 lowercase hex digits");
  });
}

// Tokens found good are kept in memory (no query per poll at 10,000
// agents); a revocation made by another orchestrator still locks the agent
// out as soon as its notification is heard, and a new token works there.
TEST_F(PgAgentFleetTest, ATokenKeptInMemoryIsRefusedOnceAnotherOrchestratorRevokesIt) {
  FleetPtr serving = Open(), revoking = Open();
  ASSERT_TRUE(serving && revoking);
  AddAgents(*serving, {"web-1"});
  ASSERT_TRUE(RunUntil([&] { return serving->listening(); }));
  auto check = [&](const std::string& digest) {
    bool good = false;
    Run([&]() -> asio::awaitable<void> {
      const std::string web1 = "web-1";
      auto ok = co_await serving->CheckToken(web1, digest);
      EXPECT_TRUE(ok.ok()) << ok.error();
      good = ok.ok() && *ok;
    });
    return good;
  };
  ASSERT_TRUE(check(kTokenA));
  ASSERT_TRUE(check(kTokenA)) << "the second check is the kept one";
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    auto revoked = co_await revoking->RevokeAgent(web1);
    EXPECT_TRUE(revoked.ok()) << revoked.message();
  });
  EXPECT_TRUE(RunUntil([&] { return !check(kTokenA); })) << "still taken well after the revocation";
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    auto readded = co_await revoking->AddAgent(web1, kTokenB);
    EXPECT_TRUE(readded.ok()) << readded.message();
  });
  EXPECT_TRUE(check(kTokenB));
  EXPECT_FALSE(check(kTokenA));
}

TEST_F(PgAgentFleetTest, SeenKeepsTheLabelsAndTheTimeOfTheLastPoll) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  AddAgents(*fleet, {"web-2", "web-1"});
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1", nobody = "web-9";
    const std::vector<std::string> labels = {"eu", "ssd, fast"};
    auto seen = co_await fleet->Seen(web1, labels);
    EXPECT_TRUE(seen.ok()) << seen.message();
    auto unknown = co_await fleet->Seen(nobody, labels);
    EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
    auto listed = co_await fleet->Agents();
    EXPECT_TRUE(listed.ok() && listed->size() == 2u) << listed.error();
    if (!listed.ok() || listed->size() != 2u) co_return;
    const AgentRow& a = listed->at(0);
    EXPECT_EQ(a.name, "web-1") << "by name";
    EXPECT_EQ(a.labels, labels);
    EXPECT_TRUE(a.last_seen_at.has_value());
    EXPECT_GE(*a.last_seen_at, a.created_at);
    EXPECT_EQ(listed->at(1).name, "web-2");
    EXPECT_FALSE(listed->at(1).last_seen_at.has_value());
    EXPECT_TRUE(listed->at(1).labels.empty());

    // Seen again at once (a poll after a poll) is not written again, but
    // new labels are, at once.
    const std::vector<std::string> relabelled = {"us"};
    auto again = co_await fleet->Seen(web1, labels);
    EXPECT_TRUE(again.ok()) << again.message();
    auto moved = co_await fleet->Seen(web1, relabelled);
    EXPECT_TRUE(moved.ok()) << moved.message();
    auto relisted = co_await fleet->Agents();
    EXPECT_TRUE(relisted.ok() && relisted->size() == 2u) << relisted.error();
    if (relisted.ok() && relisted->size() == 2u) {
      EXPECT_EQ(relisted->at(0).labels, relabelled);
    }
  });
}

// Polls arriving together are recorded in one statement; each answers
// for its own agent (an unknown one among them fails alone), and labels
// with commas, quotes or braces come back as sent.
TEST_F(PgAgentFleetTest, AgentsSeenTogetherAreEachRecordedWithTheirLabels) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  AddAgents(*fleet, {"web-1", "web-2", "web-3"});
  const std::vector<std::vector<std::string>> labels = {
      {"eu", "ssd, fast"}, {"a\"b", "{c}", ""}, {}, {"x"}};
  const std::vector<std::string> names = {"web-1", "web-2", "web-3", "web-9"};
  std::vector<Status> results(names.size(), Status::Error("not run"));
  int done = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          results[i] = co_await fleet->Seen(names[i], labels[i]);
          ++done;
        },
        asio::detached);
  }
  ASSERT_TRUE(RunUntil([&] { return done == 4; }));
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(results[i].ok()) << names[i] << ": " << results[i].message();
  EXPECT_EQ(results[3].code(), StatusCode::kNotFound) << results[3].message();
  Run([&]() -> asio::awaitable<void> {
    auto listed = co_await fleet->Agents();
    EXPECT_TRUE(listed.ok() && listed->size() == 3u) << listed.error();
    if (!listed.ok() || listed->size() != 3u) co_return;
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(listed->at(i).name, names[i]);
      EXPECT_EQ(listed->at(i).labels, labels[i]) << names[i];
      EXPECT_TRUE(listed->at(i).last_seen_at.has_value()) << names[i];
    }
  });
}

TEST_F(PgAgentFleetTest, SetDesiredRaisesTheGenerationOfEachMachineItChanges) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  AddAgents(*fleet, {"web-1", "web-2"});
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1", web2 = "web-2", nobody = "web-9", hello = "hello";
    const std::vector<DesiredChange> first = {{"web-1", "hello", R"({"v":"1"})"},
                                              {"web-1", "world", R"({"v":"w1"})"},
                                              {"web-2", "hello", R"({"v":"1"})"}};
    auto set = co_await fleet->SetDesired(first);
    EXPECT_TRUE(set.ok()) << set.message();
    auto one = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(one.ok()) << one.error();
    if (!one.ok()) co_return;
    EXPECT_EQ(one->first, 1);
    EXPECT_EQ(one->second.size(), 2u);
    if (one->second.size() == 2u) {
      EXPECT_EQ(one->second[0].project, "hello") << "by project";
      EXPECT_EQ(one->second[0].machine, "web-1");
      EXPECT_EQ(one->second[0].generation, 1);
      EXPECT_EQ(one->second[0].desired, R"({"v":"1"})");
      EXPECT_EQ(one->second[0].reported, "");
      EXPECT_FALSE(one->second[0].reported_at.has_value());
      EXPECT_EQ(one->second[1].project, "world");
    }

    // web-1 alone changes; hello named twice: the last wins.
    const std::vector<DesiredChange> second = {{"web-1", "hello", R"({"v":"x"})"},
                                               {"web-1", "hello", R"({"v":"2"})"}};
    set = co_await fleet->SetDesired(second);
    EXPECT_TRUE(set.ok()) << set.message();
    auto two = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(two.ok() && two->first == 2 && two->second.size() == 2u);
    if (two.ok() && two->second.size() == 2u) {
      EXPECT_EQ(two->second[0].desired, R"({"v":"2"})");
      EXPECT_EQ(two->second[0].generation, 2);
      EXPECT_EQ(two->second[1].generation, 1) << "world did not change";
    }
    auto other = co_await fleet->DesiredOf(web2);
    EXPECT_TRUE(other.ok() && other->first == 1) << "web-2 did not change";

    // The same desired state again is no change.
    set = co_await fleet->SetDesired(second);
    EXPECT_TRUE(set.ok()) << set.message();
    auto same = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(same.ok() && same->first == 2);

    // "" removes the project.
    const std::vector<DesiredChange> removal = {{"web-1", "world", ""}};
    set = co_await fleet->SetDesired(removal);
    EXPECT_TRUE(set.ok()) << set.message();
    auto three = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(three.ok() && three->first == 3 && three->second.size() == 1u);
    if (three.ok() && three->second.size() == 1u) {
      EXPECT_EQ(three->second[0].project, "hello");
    }

    auto of_hello = co_await fleet->DesiredOfProject(hello);
    EXPECT_TRUE(of_hello.ok() && of_hello->size() == 2u) << of_hello.error();
    if (of_hello.ok() && of_hello->size() == 2u) {
      EXPECT_EQ(of_hello->at(0).machine, "web-1") << "by machine";
      EXPECT_EQ(of_hello->at(1).machine, "web-2");
      EXPECT_EQ(of_hello->at(1).desired, R"({"v":"1"})");
    }

    auto all = co_await fleet->AllDesired();
    EXPECT_TRUE(all.ok() && all->size() == 2u) << all.error();
    if (all.ok() && all->size() == 2u) {
      EXPECT_EQ(all->at(0).machine + "/" + all->at(0).project, "web-1/hello");
      EXPECT_EQ(all->at(1).machine + "/" + all->at(1).project, "web-2/hello");
    }

    auto unknown = co_await fleet->DesiredOf(nobody);
    EXPECT_TRUE(unknown.ok() && unknown->first == 0 && unknown->second.empty());

    // A machine that is not registered fails the whole call.
    const std::vector<DesiredChange> partly = {{"web-1", "hello", R"({"v":"3"})"},
                                               {"web-9", "hello", R"({"v":"3"})"}};
    set = co_await fleet->SetDesired(partly);
    EXPECT_EQ(set.code(), StatusCode::kNotFound);
    EXPECT_EQ(set.message(), "agent fleet: set desired: no agent named 'web-9'");
    auto unchanged = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(unchanged.ok() && unchanged->first == 3);
    if (unchanged.ok() && !unchanged->second.empty()) {
      EXPECT_EQ(unchanged->second[0].desired, R"({"v":"2"})");
    }
  });
}

// An agent's long poll is served by one orchestrator, the change made by
// another: the notification wakes the wait.
// Reads of several machines at once (polls woken by one switch) are made
// together, each answered with its own machine's generation and rows.
TEST_F(PgAgentFleetTest, DesiredStatesReadTogetherAnswerEachMachine) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  AddAgents(*fleet, {"web-1", "web-2", "web-3"});
  Run([&]() -> asio::awaitable<void> {
    const std::vector<DesiredChange> changes = {
        {"web-1", "hello", "one"}, {"web-1", "world", "two"}, {"web-2", "hello", "three"}};
    auto set = co_await fleet->SetDesired(changes);
    EXPECT_TRUE(set.ok()) << set.message();
  });
  const std::vector<std::string> asked = {"web-1", "web-2", "web-3", "web-9", "web-1"};
  std::vector<Result<std::pair<int64_t, std::vector<DesiredRow>>>> got(asked.size(),
                                                                       Status::Error("unread"));
  std::vector<std::shared_ptr<Waited>> reads;
  for (size_t i = 0; i < asked.size(); ++i) {
    reads.push_back(
        Spawn([&, i]() -> asio::awaitable<void> { got[i] = co_await fleet->DesiredOf(asked[i]); }));
  }
  ASSERT_TRUE(RunUntil(
      [&] { return std::all_of(reads.begin(), reads.end(), [](auto& r) { return r->done; }); }));
  for (const auto& g : got) ASSERT_TRUE(g.ok()) << g.error();
  EXPECT_EQ(got[0]->first, 1);
  ASSERT_EQ(got[0]->second.size(), 2u);
  EXPECT_EQ(got[0]->second[0].project, "hello");
  EXPECT_EQ(got[0]->second[0].desired, "one");
  EXPECT_EQ(got[0]->second[1].desired, "two");
  EXPECT_EQ(got[1]->first, 1);
  ASSERT_EQ(got[1]->second.size(), 1u);
  EXPECT_EQ(got[1]->second[0].desired, "three");
  EXPECT_EQ(got[2]->first, 0) << "registered, never given anything";
  EXPECT_TRUE(got[2]->second.empty());
  EXPECT_EQ(got[3]->first, 0) << "unknown";
  EXPECT_TRUE(got[3]->second.empty());
  EXPECT_EQ(got[4]->second.size(), 2u) << "asked twice, answered twice";
}

TEST_F(PgAgentFleetTest, WaitDesiredWakesOnAChangeMadeByAnotherOrchestrator) {
  FleetPtr serving = Open(), changing = Open();
  ASSERT_TRUE(serving && changing);
  AddAgents(*serving, {"web-1"});
  ASSERT_TRUE(RunUntil([&] { return serving->listening(); }));

  auto waited = Spawn([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    const int64_t after = 0;
    const Duration max_wait(25000);
    co_await serving->WaitDesired(web1, after, max_wait);
  });
  ASSERT_TRUE(RunUntil([&] { return serving->parked() == 1; }));
  Run([&]() -> asio::awaitable<void> {
    const std::vector<DesiredChange> change = {{"web-1", "hello", R"({"v":"1"})"}};
    auto set = co_await changing->SetDesired(change);
    EXPECT_TRUE(set.ok()) << set.message();
  });
  ASSERT_TRUE(RunUntil([&] { return waited->done; }));
  EXPECT_LT(waited->took, std::chrono::seconds(20)) << "woken, not timed out";

  // A generation above `after` already: no wait at all.
  auto at_once = Spawn([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    const int64_t after = 0;
    const Duration max_wait(25000);
    co_await serving->WaitDesired(web1, after, max_wait);
  });
  ASSERT_TRUE(RunUntil([&] { return at_once->done; }));
  EXPECT_LT(at_once->took, std::chrono::seconds(20));
}

TEST_F(PgAgentFleetTest, WaitDesiredTimesOutWhenItsMachineDoesNotChange) {
  FleetPtr serving = Open(), changing = Open();
  ASSERT_TRUE(serving && changing);
  AddAgents(*serving, {"web-1", "web-2"});
  ASSERT_TRUE(RunUntil([&] { return serving->listening(); }));

  const Duration max_wait(400);
  auto waited = Spawn([&]() -> asio::awaitable<void> {
    const std::string web2 = "web-2";
    const int64_t after = 0;
    co_await serving->WaitDesired(web2, after, max_wait);
  });
  ASSERT_TRUE(RunUntil([&] { return serving->parked() == 1; }));
  Run([&]() -> asio::awaitable<void> {
    const std::vector<DesiredChange> change = {{"web-1", "hello", R"({"v":"1"})"}};
    auto set = co_await changing->SetDesired(change);
    EXPECT_TRUE(set.ok()) << set.message();
  });
  ASSERT_TRUE(RunUntil([&] { return waited->done; }));
  EXPECT_GE(waited->took, max_wait) << "web-1's change is not web-2's";
}

TEST_F(PgAgentFleetTest, StopEndsAParkedWaitAndSaysSoAsDoesEveryWaitAfterIt) {
  FleetPtr serving = Open();
  ASSERT_TRUE(serving);
  AddAgents(*serving, {"web-1"});
  ASSERT_TRUE(RunUntil([&] { return serving->listening(); }));
  bool parked_result = true, later_result = true;
  auto waited = Spawn([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    const int64_t after = 0;
    const Duration long_wait(60000);
    parked_result = co_await serving->WaitDesired(web1, after, long_wait);
  });
  ASSERT_TRUE(RunUntil([&] { return serving->parked() == 1; }));
  serving->Stop();
  ASSERT_TRUE(RunUntil([&] { return waited->done; }));
  EXPECT_FALSE(parked_result) << "a caller told the store stops does not wait again";
  EXPECT_LT(waited->took, Duration(60000));
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    const int64_t after = 0;
    const Duration long_wait(60000);
    later_result = co_await serving->WaitDesired(web1, after, long_wait);
  });
  EXPECT_FALSE(later_result);
}

TEST_F(PgAgentFleetTest, WaitReportedWakesOnAReportAppliedByAnotherOrchestrator) {
  FleetPtr serving = Open(), applying = Open();
  ASSERT_TRUE(serving && applying);
  AddAgents(*serving, {"web-1"});
  ASSERT_TRUE(RunUntil([&] { return serving->listening(); }));

  auto waited = Spawn([&]() -> asio::awaitable<void> {
    const std::string hello = "hello";
    const Duration max_wait(25000);
    co_await serving->WaitReported(hello, serving->ReportedMark(hello), max_wait);
  });
  ASSERT_TRUE(RunUntil([&] { return serving->parked() == 1; }));
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    AgentReport report;
    report.id = "r1";
    report.states = {{"hello", R"({"release":"a"})"}};
    auto applied = co_await applying->ApplyReport(web1, report);
    EXPECT_TRUE(applied.ok()) << applied.message();
  });
  ASSERT_TRUE(RunUntil([&] { return waited->done; }));
  EXPECT_LT(waited->took, std::chrono::seconds(20)) << "woken, not timed out";
}

// A rollout takes the mark, reads the reports, then waits: a report applied
// in between is not slept through.
TEST_F(PgAgentFleetTest, WaitReportedReturnsAtOnceForAReportAppliedSinceItsMark) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  AddAgents(*fleet, {"web-1"});
  // (LISTEN taking effect moves every mark: what was sent before is lost.)
  ASSERT_TRUE(RunUntil([&] { return fleet->listening(); }));
  const int64_t mark = fleet->ReportedMark("hello");
  const int64_t other = fleet->ReportedMark("world");
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    AgentReport report;
    report.id = "r1";
    report.states = {{"hello", R"({"release":"a"})"}};
    auto applied = co_await fleet->ApplyReport(web1, report);
    EXPECT_TRUE(applied.ok()) << applied.message();
  });
  EXPECT_NE(fleet->ReportedMark("hello"), mark);
  EXPECT_EQ(fleet->ReportedMark("world"), other) << "another project's mark did not move";

  auto waited = Spawn([&]() -> asio::awaitable<void> {
    const std::string hello = "hello";
    const Duration max_wait(25000);
    co_await fleet->WaitReported(hello, mark, max_wait);
  });
  ASSERT_TRUE(RunUntil([&] { return waited->done; }));
  EXPECT_LT(waited->took, std::chrono::seconds(20)) << "returned at once, not after max_wait";
}

// A rollout over 10,000 machines reads, after its first read, only the
// reports that changed; one written by a transaction still open at a read
// comes in a later read, though a newer transaction committed first.
TEST_F(PgAgentFleetTest, ReportsOfReadsOnlyTheReportsChangedSinceTheLastRead) {
  Reporting r = OpenReporting({"web-1", "web-2", "web-3"});
  ASSERT_TRUE(r.ok());
  PgAgentFleet& fleet = *r.fleet;
  Run([&]() -> asio::awaitable<void> {
    const std::string hello = "hello";
    const std::string world = "world";
    int n = 0;
    // Applies `states` as the next report of `machine`.
    auto report = [&](std::string machine, std::string project,
                      std::string json) -> asio::awaitable<void> {
      AgentReport rep;
      rep.id = machine + "/r" + std::to_string(++n);
      rep.states = {{project, json}};
      auto applied = co_await fleet.ApplyReport(machine, rep);
      EXPECT_TRUE(applied.ok()) << applied.message();
    };
    // "web-1=a web-2=b" for the rows read (which come in no order).
    auto names = [](const AgentFleet::ReportsRead& read) {
      std::set<std::string> each;
      for (const DesiredRow& row : read.rows) {
        EXPECT_EQ(row.project, "hello");
        each.insert(row.machine + "=" + row.reported);
      }
      std::string out;
      for (const std::string& one : each) out += (out.empty() ? "" : " ") + one;
      return out;
    };
    co_await report("web-1", hello, "a");
    co_await report("web-2", hello, "b");
    co_await report("web-3", world, "c");

    const std::vector<std::string> any;
    auto read = co_await fleet.ReportsOf(hello, any, 0);
    EXPECT_EQ(names(*read), "web-1=a web-2=b") << "every machine's";
    std::vector<std::string> second = {"web-2", "web-9"};
    read = co_await fleet.ReportsOf(hello, second, 0);
    EXPECT_EQ(names(*read), "web-2=b") << "these machines' only";
    std::vector<std::string> first_two = {"web-1", "web-2"};
    read = co_await fleet.ReportsOf(hello, first_two, 0);
    EXPECT_TRUE(read.ok()) << read.error();
    if (!read.ok()) co_return;
    EXPECT_EQ(names(*read), "web-1=a web-2=b");
    read = co_await fleet.ReportsOf(hello, any, read->next);
    EXPECT_TRUE(read.ok() && read->rows.empty()) << "nothing changed";

    // The same text again (an agent's periodic report) is no change.
    co_await report("web-2", hello, "b");
    read = co_await fleet.ReportsOf(hello, any, read->next);
    EXPECT_TRUE(read.ok() && read->rows.empty()) << names(*read);
    co_await report("web-1", hello, "a2");
    co_await report("web-3", world, "c2");
    read = co_await fleet.ReportsOf(hello, any, read->next);
    EXPECT_EQ(names(*read), "web-1=a2") << "another project's report is not read";

    // A writer that stays open across reads.
    auto executor = io_.get_executor();
    auto writer = co_await PgConnection::Connect(executor, conninfo_);
    EXPECT_TRUE(writer.ok()) << writer.error();
    if (!writer.ok()) co_return;
    std::string begin = "BEGIN";
    auto began = co_await (*writer)->Query(begin, kNone);
    EXPECT_TRUE(began.ok());
    std::string update =
        "UPDATE agent_desired SET reported = 'late', reported_xid = pg_current_xact_id() WHERE "
        "machine = 'web-2'";
    auto updated = co_await (*writer)->Query(update, kNone);
    EXPECT_TRUE(updated.ok()) << updated.error();
    read = co_await fleet.ReportsOf(hello, any, read->next);
    EXPECT_EQ(names(*read), "") << "not committed yet";
    co_await report("web-1", hello, "a3");  // a newer transaction, committed first
    read = co_await fleet.ReportsOf(hello, any, read->next);
    EXPECT_EQ(names(*read), "web-1=a3");
    std::string commit = "COMMIT";
    auto committed = co_await (*writer)->Query(commit, kNone);
    EXPECT_TRUE(committed.ok());
    read = co_await fleet.ReportsOf(hello, any, read->next);
    // (web-1=a3 may come again: its transaction began after the one still
    // open at the last read.)
    EXPECT_NE(names(*read).find("web-2=late"), std::string::npos)
        << names(*read) << ": the older transaction's report is not missed";
    read = co_await fleet.ReportsOf(hello, any, read->next);
    EXPECT_EQ(names(*read), "") << "every transaction ended: nothing comes again";
  });
}

// An agent that sends a report again (its answer was lost) changes nothing
// the second time, even after a newer report.
TEST_F(PgAgentFleetTest, AReportSentTwiceIsAppliedOnce) {
  Reporting r = OpenReporting({"web-1"});
  ASSERT_TRUE(r.ok());
  FleetPtr& fleet = r.fleet;
  const int64_t deployment = r.deployment;
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    AgentReport first;
    first.id = "web-1/r1";
    first.steps = {StepOf("web-1/d/1", deployment, StepStatus::kRunning)};
    first.states = {{"hello", R"({"release":"a"})"}};
    auto applied = co_await fleet->ApplyReport(web1, first);
    EXPECT_TRUE(applied.ok()) << applied.message();
    AgentReport second;
    second.id = "web-1/r2";
    second.states = {{"hello", R"({"release":"b"})"}};
    applied = co_await fleet->ApplyReport(web1, second);
    EXPECT_TRUE(applied.ok()) << applied.message();
    applied = co_await fleet->ApplyReport(web1, first);
    EXPECT_TRUE(applied.ok()) << "a report sent again is no error: " << applied.message();

    auto rows = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(rows.ok() && rows->second.size() == 1u);
    if (rows.ok() && rows->second.size() == 1u) {
      const DesiredRow& row = rows->second[0];
      EXPECT_EQ(row.project, "hello");
      EXPECT_EQ(row.reported, R"({"release":"b"})") << "r1 again did not undo r2";
      EXPECT_TRUE(row.reported_at.has_value());
      EXPECT_EQ(row.desired, "") << "only reported";
      EXPECT_EQ(rows->first, 0) << "a report raises no generation";
    }
    auto agents = co_await fleet->Agents();
    EXPECT_TRUE(agents.ok() && agents->size() == 1u && agents->at(0).last_seen_at.has_value());

    const std::string nobody = "web-9";
    auto unknown = co_await fleet->ApplyReport(nobody, second);
    EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
    EXPECT_EQ(unknown.message(), "agent fleet: report web-1/r2 of web-9: no agent named 'web-9'");
    AgentReport no_id;
    auto refused = co_await fleet->ApplyReport(web1, no_id);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.message(), "agent fleet: report of web-1: no id");
  });
  EXPECT_EQ(Cell("SELECT count(*) FROM steps"), "1");
  EXPECT_EQ(Cell("SELECT count(*) FROM agent_reports"), "2");
}

// Reports travel separately and may arrive in any order: an end before its
// start still leaves the step ended.
TEST_F(PgAgentFleetTest, AStepsStartAndEndUpdateOneRowInEitherOrder) {
  Reporting r = OpenReporting({"web-1"});
  ASSERT_TRUE(r.ok());
  FleetPtr& fleet = r.fleet;
  auto& record = r.record;
  const int64_t deployment = r.deployment;

  // The record's change feed hears agents' steps as it hears local ones.
  ChangeFeed feed;
  std::vector<std::string> heard;
  auto subscription = feed.Subscribe([&](const Change& c) { heard.push_back(Describe(c)); });
  PgChangeListener listener(io_.get_executor(), conninfo_, feed);
  listener.Start();
  ASSERT_TRUE(RunUntil([&] { return listener.listening(); }));

  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    AgentStep failed = StepOf("web-1/d/2", deployment, StepStatus::kFailed);
    failed.error = "sha256 mismatch";
    const std::vector<AgentReport> reports = {
        {"r1", {StepOf("web-1/d/1", deployment, StepStatus::kRunning)}, {}},
        {"r2", {StepOf("web-1/d/1", deployment, StepStatus::kSucceeded)}, {}},
        {"r3", {failed}, {}},
        {"r4", {StepOf("web-1/d/2", deployment, StepStatus::kRunning)}, {}},
    };
    for (const AgentReport& r : reports) {
      auto applied = co_await fleet->ApplyReport(web1, r);
      EXPECT_TRUE(applied.ok()) << r.id << ": " << applied.message();
    }
    auto got = co_await record->GetDeployment(deployment);
    EXPECT_TRUE(got.ok() && got->has_value()) << got.error();
    if (!got.ok() || !got->has_value()) co_return;
    const std::vector<Step>& steps = (*got)->steps;
    EXPECT_EQ(steps.size(), 2u);
    if (steps.size() != 2u) co_return;
    for (const Step& s : steps) {
      EXPECT_EQ(s.machine, "web-1");
      EXPECT_EQ(s.name, StepName::kDownload);
      EXPECT_EQ(s.started_at, kStart) << "the agent's clock";
      EXPECT_EQ(s.finished_at, std::optional<TimePoint>(kEnd));
    }
    EXPECT_EQ(steps[0].status, StepStatus::kSucceeded);
    EXPECT_EQ(steps[0].error, "");
    EXPECT_EQ(steps[1].status, StepStatus::kFailed) << "a late start does not undo the end";
    EXPECT_EQ(steps[1].error, "sha256 mismatch");
  });
  // r1, r2 and r3 changed a step; r4 changed nothing. A pin after them is
  // heard after them (notifications come in commit order): nothing came
  // of r4.
  Run([&]() -> asio::awaitable<void> {
    const Pin pin{"hello", std::string(40, 'a'), "failed", kStart};
    auto pinned = co_await record->AddPin(pin);
    EXPECT_TRUE(pinned.ok()) << pinned.message();
  });
  ASSERT_TRUE(RunUntil([&] { return !heard.empty() && heard.back() == "p:hello"; }));
  const std::string d = "d" + std::to_string(deployment);
  EXPECT_EQ(heard, (std::vector<std::string>{d, d, d, "p:hello"}));
  EXPECT_EQ(Cell("SELECT count(*) FROM steps WHERE agent_key IS NOT NULL"), "2");
}

// Reports that arrive together are applied in one transaction (10,000
// agents), each meaning what it means alone: a step's end wins over its
// start in either order, a second copy of a report changes nothing, a
// report of an unknown machine fails alone, a key another machine made is
// left alone, and a machine's last state wins.
TEST_F(PgAgentFleetTest, ReportsArrivingTogetherAreAppliedAsEachAloneWouldBe) {
  Reporting r = OpenReporting({"web-1", "web-2"});
  ASSERT_TRUE(r.ok());
  FleetPtr& fleet = r.fleet;
  const int64_t deployment = r.deployment;

  struct Sent {
    std::string machine;
    AgentReport report;
    Status result = Status::Error("not answered");
  };
  auto state = [](const std::string& version) {
    return std::vector<std::pair<std::string, std::string>>{
        {"hello", "{\"version\":\"" + version + "\"}"}};
  };
  std::vector<Sent> sent = {
      {"web-1", {"a1", {StepOf("web-1/k/1", deployment, StepStatus::kSucceeded)}, state("1")}},
      {"web-1", {"a2", {StepOf("web-1/k/1", deployment, StepStatus::kRunning)}, state("2")}},
      {"web-2", {"b1", {StepOf("web-2/k/1", deployment, StepStatus::kRunning)}, state("7")}},
      {"web-2", {"b1", {StepOf("web-2/k/1", deployment, StepStatus::kRunning)}, state("7")}},
      {"web-2", {"b2", {StepOf("web-1/k/1", deployment, StepStatus::kFailed)}, {}}},
      {"web-9", {"c1", {StepOf("web-9/k/1", deployment, StepStatus::kRunning)}, state("9")}},
  };
  std::vector<std::shared_ptr<Waited>> answers;
  for (Sent& s : sent) {
    answers.push_back(Spawn([&]() -> asio::awaitable<void> {
      s.result = co_await fleet->ApplyReport(s.machine, s.report);
    }));
  }
  ASSERT_TRUE(RunUntil([&] {
    return std::all_of(answers.begin(), answers.end(), [](auto& a) { return a->done; });
  }));
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(sent[i].result.ok()) << i << sent[i].result.message();
  EXPECT_EQ(sent[5].result.code(), StatusCode::kNotFound);
  EXPECT_EQ(sent[5].result.message(), "agent fleet: report c1 of web-9: no agent named 'web-9'");

  EXPECT_EQ(Cell("SELECT count(*) FROM agent_reports"), "4") << "a1, a2, b1 once, b2";
  EXPECT_EQ(Cell("SELECT status || ' ' || machine FROM steps WHERE agent_key = 'web-1/k/1'"),
            "succeeded web-1")
      << "the end wins over the start; web-2's word on web-1's step is left alone";
  EXPECT_EQ(Cell("SELECT count(*) FROM steps WHERE agent_key = 'web-2/k/1'"), "1");
  EXPECT_EQ(Cell("SELECT count(*) FROM steps WHERE agent_key = 'web-9/k/1'"), "0");
  EXPECT_EQ(Cell("SELECT reported FROM agent_desired WHERE machine = 'web-1'"),
            "{\"version\":\"2\"}")
      << "the last state";
  EXPECT_EQ(Cell("SELECT reported FROM agent_desired WHERE machine = 'web-2'"),
            "{\"version\":\"7\"}");
  EXPECT_EQ(Cell("SELECT count(*) FROM agents WHERE last_seen_at_ms IS NOT NULL"), "2");
}

// A listing of deployments carries a rollout's steps one per name, not one
// per machine (a rollout over 10,000 machines has 40,000 of them).
TEST_F(PgAgentFleetTest, AListingFoldsAgentsStepsIntoOnePerName) {
  Reporting r = OpenReporting({"web-1", "web-2"});
  ASSERT_TRUE(r.ok());
  FleetPtr& fleet = r.fleet;
  auto& record = r.record;
  const int64_t deployment = r.deployment;
  Run([&]() -> asio::awaitable<void> {
    AgentStep failed = StepOf("web-2/d/1", deployment, StepStatus::kFailed);
    failed.error = "sha256 mismatch";
    AgentStep running = StepOf("web-2/d/2", deployment, StepStatus::kRunning);
    running.name = StepName::kStart;
    AgentStep started = StepOf("web-1/d/2", deployment, StepStatus::kSucceeded);
    started.name = StepName::kStart;
    const std::vector<std::pair<std::string, AgentReport>> reports = {
        {"web-1", {"a1", {StepOf("web-1/d/1", deployment, StepStatus::kSucceeded), started}, {}}},
        {"web-2", {"b1", {failed, running}, {}}},
    };
    for (const auto& [machine, r] : reports) {
      auto applied = co_await fleet->ApplyReport(machine, r);
      EXPECT_TRUE(applied.ok()) << applied.message();
    }
    DeploymentFilter f;
    f.fold_agent_steps = true;
    auto listed = co_await record->ListDeployments(f);
    EXPECT_TRUE(listed.ok() && listed->size() == 1u) << listed.error();
    if (!listed.ok() || listed->size() != 1u) co_return;
    const std::vector<Step>& steps = listed->at(0).steps;
    EXPECT_EQ(steps.size(), 2u);
    if (steps.size() != 2u) co_return;
    EXPECT_EQ(steps[0].name, StepName::kDownload);
    EXPECT_EQ(steps[0].machine, "2 machines");
    EXPECT_EQ(steps[0].status, StepStatus::kFailed);
    EXPECT_EQ(steps[0].error, "sha256 mismatch");
    EXPECT_EQ(steps[1].name, StepName::kStart);
    EXPECT_EQ(steps[1].status, StepStatus::kRunning);
    EXPECT_FALSE(steps[1].finished_at.has_value()) << "one still runs";
    f.fold_agent_steps = false;
    auto all = co_await record->ListDeployments(f);
    EXPECT_TRUE(all.ok() && all->size() == 1u && all->at(0).steps.size() == 4u);
  });
}

TEST_F(PgAgentFleetTest, AStepOfAnUnknownDeploymentIsDroppedAndTheRestApplied) {
  Reporting r = OpenReporting({"web-1"});
  ASSERT_TRUE(r.ok());
  FleetPtr& fleet = r.fleet;
  const int64_t deployment = r.deployment;
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    AgentReport report;
    report.id = "r1";
    report.steps = {StepOf("web-1/x/1", deployment + 1000, StepStatus::kRunning),
                    StepOf("web-1/d/1", deployment, StepStatus::kRunning)};
    report.states = {{"hello", R"({"release":"a"})"}};
    auto applied = co_await fleet->ApplyReport(web1, report);
    EXPECT_TRUE(applied.ok()) << applied.message();
    auto rows = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(rows.ok() && rows->second.size() == 1u);
    if (rows.ok() && rows->second.size() == 1u) {
      EXPECT_EQ(rows->second[0].reported, R"({"release":"a"})");
    }
  });
  EXPECT_EQ(Cell("SELECT count(*) FROM steps"), "1");
  EXPECT_EQ(Cell("SELECT agent_key FROM steps"), "web-1/d/1");
}

TEST_F(PgAgentFleetTest, RecordMachineMakesOrReplacesADeploymentsMachine) {
  FleetPtr fleet = Open();
  ASSERT_TRUE(fleet);
  Run([&]() -> asio::awaitable<void> {
    DeploymentMachine row;
    row.deployment_id = 7;
    row.status = MachineRolloutStatus::kFetching;
    row.from_version = "main-11111111";
    row.to_version = "main-22222222";
    row.from_release = "20260101T000000Z-111111111111";
    row.to_release = "20260102T000000Z-222222222222";
    row.started_at = kStart;
    for (const auto& [machine, batch] :
         std::vector<std::pair<std::string, int>>{{"web-2", 2}, {"web-3", 1}, {"web-1", 1}}) {
      row.machine = machine;
      row.batch = batch;
      auto recorded = co_await fleet->RecordMachine(row);
      EXPECT_TRUE(recorded.ok()) << recorded.message();
    }
    row.machine = "web-1";
    row.batch = 1;
    row.status = MachineRolloutStatus::kFailed;
    row.finished_at = kEnd;
    row.error = "unhealthy after 30 s";
    auto replaced = co_await fleet->RecordMachine(row);
    EXPECT_TRUE(replaced.ok()) << replaced.message();

    const int64_t deployment = 7, other = 8;
    auto machines = co_await fleet->MachinesOf(deployment);
    EXPECT_TRUE(machines.ok() && machines->size() == 3u) << machines.error();
    if (!machines.ok() || machines->size() != 3u) co_return;
    EXPECT_EQ(machines->at(0).machine, "web-1") << "by batch, then machine";
    EXPECT_EQ(machines->at(1).machine, "web-3");
    EXPECT_EQ(machines->at(2).machine, "web-2");
    const DeploymentMachine& m = machines->at(0);
    EXPECT_EQ(m.deployment_id, 7);
    EXPECT_EQ(m.batch, 1);
    EXPECT_EQ(m.status, MachineRolloutStatus::kFailed);
    EXPECT_EQ(m.from_version, row.from_version);
    EXPECT_EQ(m.to_version, row.to_version);
    EXPECT_EQ(m.from_release, row.from_release);
    EXPECT_EQ(m.to_release, row.to_release);
    EXPECT_EQ(m.started_at, row.started_at);
    EXPECT_EQ(m.finished_at, row.finished_at);
    EXPECT_EQ(m.error, "unhealthy after 30 s");
    EXPECT_EQ(machines->at(1).status, MachineRolloutStatus::kFetching);
    EXPECT_FALSE(machines->at(1).finished_at.has_value());
    auto none = co_await fleet->MachinesOf(other);
    EXPECT_TRUE(none.ok() && none->empty());
  });
}

// A rollout cut short by its orchestrator's end (killed, or its lease
// lost): the machines whose part had not ended say so with the
// deployment's reason, instead of "switching" for ever; those that ended
// keep what they said, and another deployment's rows are left alone until
// it is interrupted too.
TEST_F(PgAgentFleetTest, AnInterruptedDeploymentsMachinesThatHadNotEndedAreInterrupted) {
  FleetPtr fleet = Open();
  std::unique_ptr<PgRecordStore> record = OpenRecord();
  ASSERT_TRUE(fleet && record);
  const int64_t hello = MakeDeployment(*record, "hello");
  const int64_t other = MakeDeployment(*record, "other");
  ASSERT_TRUE(hello > 0 && other > 0);
  Run([&]() -> asio::awaitable<void> {
    std::vector<DeploymentMachine> rows;
    const std::vector<std::pair<std::string, MachineRolloutStatus>> parts = {
        {"web-1", MachineRolloutStatus::kSucceeded},
        {"web-2", MachineRolloutStatus::kSwitching},
        {"web-3", MachineRolloutStatus::kFetched},
        {"web-4", MachineRolloutStatus::kWaiting},
        {"web-5", MachineRolloutStatus::kFetching}};
    for (const auto& [machine, status] : parts) {
      DeploymentMachine row;
      row.deployment_id = hello;
      row.machine = machine;
      row.batch = 1;
      row.status = status;
      row.started_at = kStart;
      if (status == MachineRolloutStatus::kSucceeded) row.finished_at = kStart;
      rows.push_back(row);
    }
    DeploymentMachine elsewhere = rows[1];
    elsewhere.deployment_id = other;
    rows.push_back(elsewhere);
    auto recorded = co_await fleet->RecordMachines(rows);
    EXPECT_TRUE(recorded.ok()) << recorded.message();

    const std::string why = "the orchestrator running project hello stopped before it finished";
    auto interrupted = co_await record->InterruptUnfinishedOfProject(kEnd, "hello", why);
    EXPECT_TRUE(interrupted.ok() && *interrupted == 1) << interrupted.error();
    auto machines = co_await fleet->MachinesOf(hello);
    EXPECT_TRUE(machines.ok() && machines->size() == 5u) << machines.error();
    if (!machines.ok() || machines->size() != 5u) co_return;
    EXPECT_EQ(machines->at(0).status, MachineRolloutStatus::kSucceeded);
    EXPECT_EQ(machines->at(0).finished_at, kStart);
    EXPECT_EQ(machines->at(0).error, "");
    for (size_t i = 1; i < machines->size(); ++i) {
      const DeploymentMachine& m = machines->at(i);
      EXPECT_EQ(m.status, MachineRolloutStatus::kInterrupted) << m.machine;
      EXPECT_EQ(m.finished_at, kEnd) << m.machine;
      EXPECT_EQ(m.error, why) << m.machine;
    }
    auto untouched = co_await fleet->MachinesOf(other);
    EXPECT_TRUE(untouched.ok() && untouched->size() == 1u) << untouched.error();
    if (!untouched.ok() || untouched->size() != 1u) co_return;
    EXPECT_EQ(untouched->at(0).status, MachineRolloutStatus::kSwitching);

    // This orchestrator's own next life finds it unfinished.
    const std::string stopped = "anthill stopped before it finished";
    auto all = co_await record->InterruptUnfinished(kEnd, stopped);
    EXPECT_TRUE(all.ok() && *all == 1) << all.error();
    untouched = co_await fleet->MachinesOf(other);
    EXPECT_TRUE(untouched.ok() && untouched->size() == 1u) << untouched.error();
    if (!untouched.ok() || untouched->size() != 1u) co_return;
    EXPECT_EQ(untouched->at(0).status, MachineRolloutStatus::kInterrupted);
    EXPECT_EQ(untouched->at(0).error, stopped);
  });
}

// Text from agents and rollouts need not be UTF-8 (an error message, a
// label): it is stored as U+FFFD, not refused.
TEST_F(PgAgentFleetTest, TextThatIsNotUtf8IsStoredAsReplacementCharacters) {
  Reporting r = OpenReporting({"web-1"});
  ASSERT_TRUE(r.ok());
  FleetPtr& fleet = r.fleet;
  auto& record = r.record;
  const int64_t deployment = r.deployment;
  Run([&]() -> asio::awaitable<void> {
    const std::string web1 = "web-1";
    const std::vector<std::string> labels = {"r\xff"};
    auto seen = co_await fleet->Seen(web1, labels);
    EXPECT_TRUE(seen.ok()) << seen.message();
    const std::vector<DesiredChange> change = {{"web-1", "hello", "{\"env\":\"\xfe\"}"}};
    auto set = co_await fleet->SetDesired(change);
    EXPECT_TRUE(set.ok()) << set.message();
    AgentStep step = StepOf("web-1/d/\xff", deployment, StepStatus::kFailed);
    step.error = std::string("exit 2: \xc3\x28", 10);
    AgentReport report;
    report.id = "r\xff";
    report.steps = {step};
    report.states = {{"hello", "{\"log\":\"\x80\"}"}};
    auto applied = co_await fleet->ApplyReport(web1, report);
    EXPECT_TRUE(applied.ok()) << applied.message();
    DeploymentMachine row;
    row.deployment_id = deployment;
    row.machine = "web-1";
    row.error = "bad \xff byte";
    auto recorded = co_await fleet->RecordMachine(row);
    EXPECT_TRUE(recorded.ok()) << recorded.message();

    auto agents = co_await fleet->Agents();
    EXPECT_TRUE(agents.ok() && agents->size() == 1u);
    if (agents.ok() && agents->size() == 1u) {
      EXPECT_EQ(agents->at(0).labels, std::vector<std::string>{"r" + kFffd});
    }
    auto rows = co_await fleet->DesiredOf(web1);
    EXPECT_TRUE(rows.ok() && rows->second.size() == 1u);
    if (rows.ok() && rows->second.size() == 1u) {
      EXPECT_EQ(rows->second[0].desired, "{\"env\":\"" + kFffd + "\"}");
      EXPECT_EQ(rows->second[0].reported, "{\"log\":\"" + kFffd + "\"}");
    }
    auto got = co_await record->GetDeployment(deployment);
    EXPECT_TRUE(got.ok() && got->has_value() && (*got)->steps.size() == 1u);
    if (got.ok() && got->has_value() && (*got)->steps.size() == 1u) {
      EXPECT_EQ((*got)->steps[0].error, "exit 2: " + kFffd + "(");
    }
    auto machines = co_await fleet->MachinesOf(deployment);
    EXPECT_TRUE(machines.ok() && machines->size() == 1u);
    if (machines.ok() && machines->size() == 1u) {
      EXPECT_EQ(machines->at(0).error, "bad " + kFffd + " byte");
    }
  });
  EXPECT_EQ(Cell("SELECT agent_key FROM steps"), "web-1/d/" + kFffd);
}

}  // namespace

}  // namespace anthill::store
