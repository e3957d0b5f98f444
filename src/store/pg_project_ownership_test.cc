// Which orchestrator runs each project, in PostgreSQL, as a fleet's
// orchestrators use it: a project held and refused to another while the
// lease lives; a holder that stops renewing and the one that takes over; a
// clean release; two orchestrators starting at once; actions forwarded to
// the holder and taken once; what they answered; bytes that are not UTF-8;
// wake-ups by notification. Against a real PostgreSQL 15
// (testing::Postgres), a fresh database per test.
#include "store/pg_project_ownership.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <set>

#include "base/event.h"
#include "store/pg_connection.h"
#include "store/pg_loop_test.h"
#include "testing/postgres.h"
#include "testing/testing.h"

namespace anthill::store {

namespace {

namespace asio = boost::asio;
using OwnershipPtr = std::unique_ptr<PgProjectOwnership>;
using Names = std::vector<std::string>;

const OrchestratorId kA{"box-a/6f1c2e9a", "box-a", "http://10.0.0.5:7070"};
const OrchestratorId kB{"box-b/0b3d77e1", "box-b", ""};

ForwardedAction Deploy(const std::string& project, const std::string& ref) {
  ForwardedAction a;
  a.project = project;
  a.kind = ForwardedKind::kDeploy;
  a.ref = ref;
  a.actor = "alice";
  a.received_by = kB.id;
  return a;
}

Names Ids(const std::vector<ForwardedAction>& actions) {
  Names out;
  for (const auto& a : actions) out.push_back(std::to_string(a.id));
  return out;
}

class PgProjectOwnershipTest : public PgLoopTest {
 protected:
  // An ownership with `options`, as one orchestrator opens it.
  OwnershipPtr Open(PgProjectOwnership::Options options = {}) {
    OwnershipPtr ownership;
    Run([&]() -> asio::awaitable<void> {
      auto executor = io_.get_executor();
      auto opened = co_await PgProjectOwnership::Open(executor, conninfo_, options);
      EXPECT_TRUE(opened.ok()) << opened.error();
      if (opened.ok()) ownership = std::move(*opened);
    });
    return ownership;
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

  // Hold, tried every 50 ms until it gets all of `projects` (a lease runs
  // out on the server's clock; nothing announces it), for 30 s.
  static asio::awaitable<Names> HoldOnceFree(PgProjectOwnership& ownership, Names projects,
                                             OrchestratorId me) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const Duration pause(50);
    while (std::chrono::steady_clock::now() < deadline) {
      auto held = co_await ownership.Hold(projects, me);
      EXPECT_TRUE(held.ok()) << held.error();
      if (!held.ok() || *held == projects) co_return held.ok() ? *held : Names{};
      co_await SleepFor(pause);
    }
    ADD_FAILURE() << "no lease ran out in 30 s";
    co_return Names{};
  }

  // Waits, by the server's clock, until every lease has run out, for 30 s.
  asio::awaitable<void> UntilEveryLeaseRanOut() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const Duration pause(50);
    while (std::chrono::steady_clock::now() < deadline) {
      auto live = co_await Sql(
          "SELECT count(*) FROM project_holders "
          "WHERE until_ms > (extract(epoch FROM now()) * 1000)::bigint");
      if (live.rows.at(0).at(0) == "0") co_return;
      co_await SleepFor(pause);
    }
    ADD_FAILURE() << "a lease still lives after 30 s";
  }

  static inline const PgParams kNone;
};

TEST_F(PgProjectOwnershipTest, AHeldProjectIsRefusedToAnotherWhileItsLeaseLives) {
  OwnershipPtr a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  Run([&]() -> asio::awaitable<void> {
    const Names mine = {"world", "hello"}, theirs = {"hello", "extra"};
    auto held = co_await a->Hold(mine, kA);
    EXPECT_TRUE(held.ok()) << held.error();
    EXPECT_EQ(*held, (Names{"hello", "world"})) << "sorted by name";
    auto refused = co_await b->Hold(theirs, kB);
    EXPECT_TRUE(refused.ok()) << refused.error();
    EXPECT_EQ(*refused, Names{"extra"}) << "hello is box-a's";

    auto holders = co_await a->Holders();
    EXPECT_TRUE(holders.ok() && holders->size() == 3u) << holders.error();
    if (!holders.ok() || holders->size() != 3u) co_return;
    const ProjectHolder extra = (*holders)[0], hello = (*holders)[1];
    EXPECT_EQ(extra.project, "extra");
    EXPECT_EQ(extra.holder.id, kB.id);
    EXPECT_EQ(extra.holder.machine, "box-b");
    EXPECT_EQ(hello.project, "hello");
    EXPECT_EQ(hello.holder.id, kA.id);
    EXPECT_EQ(hello.holder.machine, "box-a");
    EXPECT_EQ(hello.holder.url, "http://10.0.0.5:7070");
    EXPECT_EQ(hello.until - hello.since, a->options().lease) << "the server's now + lease";
    EXPECT_EQ((*holders)[2].project, "world");

    // Renewed (a project named twice counts once): `since` stays.
    const Names twice = {"hello", "hello"};
    auto renewed = co_await a->Hold(twice, kA);
    EXPECT_TRUE(renewed.ok()) << renewed.error();
    EXPECT_EQ(*renewed, Names{"hello"});
    auto after = co_await a->Holders();
    EXPECT_TRUE(after.ok() && after->size() == 3u);
    if (!after.ok() || after->size() != 3u) co_return;
    EXPECT_EQ((*after)[1].holder.id, kA.id);
    EXPECT_EQ((*after)[1].since, hello.since) << "a renewal is no new holding";
    EXPECT_GE((*after)[1].until, hello.until);

    const OrchestratorId nobody{"", "box-c", ""};
    auto no_id = co_await b->Hold(mine, nobody);
    EXPECT_EQ(no_id.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(no_id.error(), "project ownership: hold: a holder needs an id");
    const Names none;
    auto nothing = co_await b->Hold(none, kB);
    EXPECT_TRUE(nothing.ok() && nothing->empty());
  });
}

// box-a stops renewing (killed, cut off): once its lease ran out box-b
// takes the project over, and box-a, back again, no longer gets it.
TEST_F(PgProjectOwnershipTest, AHolderThatStopsRenewingLosesTheProjectToTheNext) {
  OwnershipPtr a = Open({.lease = Duration(300)});
  OwnershipPtr b = Open();  // box-b's lease is the default 10 s
  ASSERT_TRUE(a && b);
  Run([&]() -> asio::awaitable<void> {
    const Names hello = {"hello"};
    auto held = co_await a->Hold(hello, kA);
    EXPECT_TRUE(held.ok() && *held == hello) << held.error();
    auto before = co_await a->Holders();
    EXPECT_TRUE(before.ok() && before->size() == 1u);
    if (!before.ok() || before->size() != 1u) co_return;
    const TimePoint a_since = before->at(0).since;

    auto taken = co_await HoldOnceFree(*b, hello, kB);
    EXPECT_EQ(taken, hello);
    auto after = co_await b->Holders();
    EXPECT_TRUE(after.ok() && after->size() == 1u);
    if (!after.ok() || after->size() != 1u) co_return;
    const ProjectHolder& now = after->at(0);
    EXPECT_EQ(now.holder.id, kB.id);
    EXPECT_EQ(now.holder.machine, "box-b");
    EXPECT_EQ(now.holder.url, "") << "box-b's, not box-a's";
    EXPECT_GT(now.since, a_since) << "a takeover starts a new holding";
    EXPECT_EQ(now.until - now.since, b->options().lease);

    auto back = co_await a->Hold(hello, kA);
    EXPECT_TRUE(back.ok()) << back.error();
    EXPECT_TRUE(back->empty()) << "box-b holds it now";
    // A restarted box-a is a new holder too.
    const OrchestratorId a_restarted{"box-a/99aa0c1d", "box-a", kA.url};
    auto restarted = co_await a->Hold(hello, a_restarted);
    EXPECT_TRUE(restarted.ok() && restarted->empty());
  });
}

TEST_F(PgProjectOwnershipTest, AReleasedProjectIsTakenByAnotherAtOnce) {
  OwnershipPtr a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  Run([&]() -> asio::awaitable<void> {
    const Names both = {"hello", "world"}, hello = {"hello"}, world = {"world"};
    auto held = co_await a->Hold(both, kA);
    EXPECT_TRUE(held.ok() && *held == both);
    auto refused = co_await b->Hold(both, kB);
    EXPECT_TRUE(refused.ok() && refused->empty());

    auto released = co_await a->Release(hello, kA.id);
    EXPECT_TRUE(released.ok()) << released.message();
    // Release gives up only the caller's own: world is box-a's.
    auto not_mine = co_await b->Release(world, kB.id);
    EXPECT_TRUE(not_mine.ok()) << not_mine.message();
    auto taken = co_await b->Hold(both, kB);
    EXPECT_TRUE(taken.ok()) << taken.error();
    EXPECT_EQ(*taken, hello) << "at once, without waiting for box-a's lease";

    auto holders = co_await b->Holders();
    EXPECT_TRUE(holders.ok() && holders->size() == 2u);
    if (!holders.ok() || holders->size() != 2u) co_return;
    EXPECT_EQ(holders->at(0).holder.id, kB.id);
    EXPECT_EQ(holders->at(1).holder.id, kA.id);
  });
}

// Two orchestrators starting at once with the same projects: each project
// goes to one of them, and each keeps its own as both renew at once.
TEST_F(PgProjectOwnershipTest, TwoOrchestratorsHoldingAtOnceSplitTheProjects) {
  OwnershipPtr a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  // Connected both, so that their Holds start together.
  Run([&]() -> asio::awaitable<void> {
    auto a_ready = co_await a->Holders();
    auto b_ready = co_await b->Holders();
    EXPECT_TRUE(a_ready.ok() && b_ready.ok());
  });

  const int kRounds = 5, kProjects = 50;
  for (int round = 0; round < kRounds; ++round) {
    Names projects;
    for (int i = 0; i < kProjects; ++i) {
      projects.push_back("p" + std::to_string(round) + "-" + std::to_string(i));
    }
    Names reversed(projects.rbegin(), projects.rend());
    std::sort(projects.begin(), projects.end());

    std::optional<Names> got_a, got_b;
    auto hold = [](PgProjectOwnership& o, Names wanted, OrchestratorId me,
                   std::optional<Names>* out) -> asio::awaitable<void> {
      auto held = co_await o.Hold(wanted, me);
      EXPECT_TRUE(held.ok()) << held.error();
      *out = held.ok() ? *held : Names{};
    };
    asio::co_spawn(io_, hold(*a, projects, kA, &got_a), asio::detached);
    asio::co_spawn(io_, hold(*b, reversed, kB, &got_b), asio::detached);
    ASSERT_TRUE(RunUntil([&] { return got_a && got_b; }));

    std::set<std::string> all(got_a->begin(), got_a->end());
    for (const auto& p : *got_b) {
      EXPECT_TRUE(all.insert(p).second) << p << " is held by both";
    }
    EXPECT_EQ(all.size(), static_cast<size_t>(kProjects)) << "round " << round;

    // Both renew at once: each keeps exactly its own.
    const Names first_a = *got_a, first_b = *got_b;
    got_a.reset();
    got_b.reset();
    asio::co_spawn(io_, hold(*b, reversed, kB, &got_b), asio::detached);
    asio::co_spawn(io_, hold(*a, projects, kA, &got_a), asio::detached);
    ASSERT_TRUE(RunUntil([&] { return got_a && got_b; }));
    EXPECT_EQ(*got_a, first_a);
    EXPECT_EQ(*got_b, first_b);
  }

  // One project a call, from opposite ends, every call under way at once:
  // the two meet somewhere in the middle, racing for the same projects.
  Names projects;
  for (int i = 0; i < kProjects; ++i) projects.push_back("q" + std::to_string(100 + i));
  std::vector<std::optional<Names>> by_a(kProjects), by_b(kProjects);
  auto hold_one = [](PgProjectOwnership& o, std::string project, OrchestratorId me,
                     std::optional<Names>* out) -> asio::awaitable<void> {
    const Names wanted = {std::move(project)};
    auto held = co_await o.Hold(wanted, me);
    EXPECT_TRUE(held.ok()) << held.error();
    *out = held.ok() ? *held : Names{};
  };
  for (int i = 0; i < kProjects; ++i) {
    const int j = kProjects - 1 - i;
    asio::co_spawn(io_, hold_one(*a, projects[i], kA, &by_a[i]), asio::detached);
    asio::co_spawn(io_, hold_one(*b, projects[j], kB, &by_b[j]), asio::detached);
  }
  ASSERT_TRUE(RunUntil([&] {
    return std::all_of(by_a.begin(), by_a.end(), [](const auto& r) { return r.has_value(); }) &&
           std::all_of(by_b.begin(), by_b.end(), [](const auto& r) { return r.has_value(); });
  }));
  for (int i = 0; i < kProjects; ++i) {
    EXPECT_NE(by_a[i]->empty(), by_b[i]->empty()) << projects[i] << ": held by one, not both";
  }

  Run([&]() -> asio::awaitable<void> {
    auto holders = co_await a->Holders();
    EXPECT_TRUE(holders.ok() && holders->size() == static_cast<size_t>((kRounds + 1) * kProjects));
  });
}

// A deploy by hand reaches box-b, which does not hold the project: box-a,
// its holder, takes it, once, even with two of its coroutines asking at
// once; no one else does.
TEST_F(PgProjectOwnershipTest, EachForwardedActionIsTakenOnceAndOnlyByTheHolder) {
  OwnershipPtr a1 = Open(), a2 = Open(), b = Open();
  ASSERT_TRUE(a1 && a2 && b);
  const int kActions = 20;
  Names forwarded;
  Run([&]() -> asio::awaitable<void> {
    const Names hello = {"hello"}, other = {"other"};
    auto held_a = co_await a1->Hold(hello, kA);
    auto held_b = co_await b->Hold(other, kB);
    EXPECT_TRUE(held_a.ok() && held_b.ok() && *held_a == hello && *held_b == other);
    for (int i = 0; i < kActions; ++i) {
      const ForwardedAction action = Deploy("hello", "refs/tags/v" + std::to_string(i));
      auto id = co_await b->Forward(action);
      EXPECT_TRUE(id.ok()) << id.error();
      forwarded.push_back(id.ok() ? std::to_string(*id) : "?");
    }
    const ForwardedAction unheld = Deploy("nobody", "");
    auto unheld_id = co_await b->Forward(unheld);
    EXPECT_TRUE(unheld_id.ok());

    auto not_for_b = co_await b->TakeForwarded(kB.id);
    EXPECT_TRUE(not_for_b.ok() && not_for_b->empty()) << "box-b holds neither hello nor nobody";
  });

  std::optional<std::vector<ForwardedAction>> took_1, took_2;
  auto take = [](PgProjectOwnership& o,
                 std::optional<std::vector<ForwardedAction>>* out) -> asio::awaitable<void> {
    const std::string me = kA.id;
    auto taken = co_await o.TakeForwarded(me);
    EXPECT_TRUE(taken.ok()) << taken.error();
    *out = taken.ok() ? *taken : std::vector<ForwardedAction>{};
  };
  asio::co_spawn(io_, take(*a1, &took_1), asio::detached);
  asio::co_spawn(io_, take(*a2, &took_2), asio::detached);
  ASSERT_TRUE(RunUntil([&] { return took_1 && took_2; }));

  for (const auto* took : {&*took_1, &*took_2}) {
    EXPECT_TRUE(std::is_sorted(took->begin(), took->end(), [](const auto& x, const auto& y) {
      return x.id < y.id;
    })) << "oldest first";
    for (const auto& action : *took) {
      EXPECT_EQ(action.project, "hello");
      EXPECT_EQ(action.taken_by, kA.id);
      EXPECT_TRUE(action.taken_at.has_value());
    }
  }
  Names all = Ids(*took_1), second = Ids(*took_2);
  all.insert(all.end(), second.begin(), second.end());
  std::sort(all.begin(), all.end());
  Names expected = forwarded;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(all, expected) << "each action taken once";

  Run([&]() -> asio::awaitable<void> {
    const std::string me = kA.id;
    auto again = co_await a1->TakeForwarded(me);
    EXPECT_TRUE(again.ok() && again->empty()) << "taken once";
    auto untaken =
        co_await Sql("SELECT project, taken_by FROM forwarded_actions WHERE taken_at_ms IS NULL");
    EXPECT_EQ(untaken.rows.size(), 1u);
    if (untaken.rows.size() == 1u) {
      EXPECT_EQ(untaken.rows[0][0], "nobody") << "kept for whoever holds it one day";
      EXPECT_EQ(untaken.rows[0][1], "");
    }
  });
}

// An action that reaches the fleet while its project's holder is gone
// waits for the next holder; the old one, even if it comes back, does not
// take it without a live lease.
TEST_F(PgProjectOwnershipTest, AnActionWaitsForTheNextHolderWhenTheLeaseRanOut) {
  OwnershipPtr a = Open({.lease = Duration(300)});
  OwnershipPtr b = Open();
  ASSERT_TRUE(a && b);
  Run([&]() -> asio::awaitable<void> {
    const Names hello = {"hello"};
    auto held = co_await a->Hold(hello, kA);
    EXPECT_TRUE(held.ok() && *held == hello);
    co_await UntilEveryLeaseRanOut();

    const ForwardedAction deploy = Deploy("hello", "refs/heads/main");
    auto id = co_await b->Forward(deploy);
    EXPECT_TRUE(id.ok()) << id.error();
    const std::string a_id = kA.id, b_id = kB.id;
    auto stale = co_await a->TakeForwarded(a_id);
    EXPECT_TRUE(stale.ok()) << stale.error();
    EXPECT_TRUE(stale->empty()) << "box-a's lease ran out";

    auto taken_over = co_await b->Hold(hello, kB);
    EXPECT_TRUE(taken_over.ok() && *taken_over == hello);
    auto took = co_await b->TakeForwarded(b_id);
    EXPECT_TRUE(took.ok() && took->size() == 1u) << took.error();
    if (!took.ok() || took->size() != 1u) co_return;
    EXPECT_EQ(took->at(0).id, *id);
    EXPECT_EQ(took->at(0).taken_by, kB.id);
    EXPECT_EQ(took->at(0).ref, "refs/heads/main");

    auto back = co_await a->Hold(hello, kA);
    EXPECT_TRUE(back.ok() && back->empty());
    auto nothing = co_await a->TakeForwarded(a_id);
    EXPECT_TRUE(nothing.ok() && nothing->empty());
  });
}

TEST_F(PgProjectOwnershipTest, AForwardedActionAndItsAnswerAreKeptAsGiven) {
  OwnershipPtr ownership = Open();
  ASSERT_NE(ownership, nullptr);
  Run([&]() -> asio::awaitable<void> {
    ForwardedAction rollback;
    rollback.id = 77;  // the store's to give
    rollback.project = "hello";
    rollback.kind = ForwardedKind::kRollback;
    rollback.ref = "refs/heads/main";
    rollback.commit = std::string(40, 'c');
    rollback.version = "main-cccccccc";
    rollback.deployment_id = 12;
    rollback.trigger = "webhook";
    rollback.actor = "alice";
    rollback.received_by = kB.id;
    rollback.received_at = FromUnixMillis(1);  // the store's clock, not ours
    rollback.taken_by = "someone";             // not taken yet, whatever it says
    rollback.answer = "early";
    auto id = co_await ownership->Forward(rollback);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) co_return;
    EXPECT_NE(*id, 77);

    auto kept = co_await ownership->GetForwarded(*id);
    EXPECT_TRUE(kept.ok()) << kept.error();
    if (!kept.ok()) co_return;
    EXPECT_EQ(kept->id, *id);
    EXPECT_EQ(kept->project, "hello");
    EXPECT_EQ(kept->kind, ForwardedKind::kRollback);
    EXPECT_EQ(kept->ref, "refs/heads/main");
    EXPECT_EQ(kept->commit, std::string(40, 'c'));
    EXPECT_EQ(kept->version, "main-cccccccc");
    EXPECT_EQ(kept->deployment_id, 12);
    EXPECT_EQ(kept->trigger, "webhook");
    EXPECT_EQ(kept->actor, "alice");
    EXPECT_EQ(kept->received_by, kB.id);
    // The server runs on this machine: its clock is ours, give or take.
    EXPECT_LT(std::chrono::abs(kept->received_at - Now()), Duration(60000));
    EXPECT_FALSE(kept->taken_at.has_value());
    EXPECT_EQ(kept->taken_by, "");
    EXPECT_EQ(kept->answer, "");

    const Names hello = {"hello"};
    auto held = co_await ownership->Hold(hello, kA);
    const std::string me = kA.id;
    auto took = co_await ownership->TakeForwarded(me);
    EXPECT_TRUE(held.ok() && took.ok() && took->size() == 1u);
    const std::string answer = "deployment 13 queued: rollback to main-cccccccc";
    auto answered = co_await ownership->Answer(*id, answer);
    EXPECT_TRUE(answered.ok()) << answered.message();
    auto done = co_await ownership->GetForwarded(*id);
    EXPECT_TRUE(done.ok()) << done.error();
    if (!done.ok()) co_return;
    EXPECT_EQ(done->answer, answer);
    EXPECT_EQ(done->taken_by, kA.id);
    EXPECT_TRUE(done->taken_at.has_value());
    EXPECT_GE(done->taken_at.value_or(TimePoint{}), done->received_at);

    // Every kind keeps its word.
    for (const auto& [kind, word] : kForwardedKindWords) {
      ForwardedAction action = Deploy("hello", "");
      action.kind = kind;
      auto made = co_await ownership->Forward(action);
      EXPECT_TRUE(made.ok()) << made.error();
      if (!made.ok()) continue;
      auto got = co_await ownership->GetForwarded(*made);
      EXPECT_TRUE(got.ok() && got->kind == kind) << word;
    }

    auto missing = co_await ownership->GetForwarded(999);
    EXPECT_EQ(missing.code(), StatusCode::kNotFound);
    EXPECT_EQ(missing.error(), "project ownership: no forwarded action 999");
    auto answer_missing = co_await ownership->Answer(999, answer);
    EXPECT_EQ(answer_missing.code(), StatusCode::kNotFound);
    EXPECT_EQ(answer_missing.message(), "project ownership: no forwarded action 999");
    const ForwardedAction no_project = Deploy("", "");
    auto refused = co_await ownership->Forward(no_project);
    EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.error(), "project ownership: forward deploy: no project named");
  });
}

// A newer Anthill in the fleet may forward a kind this build does not
// know: it is not taken here (a holder that knows it will), and reading it
// says what it is.
TEST_F(PgProjectOwnershipTest, AnActionOfAKindThisBuildDoesNotKnowIsLeftUntaken) {
  OwnershipPtr ownership = Open();
  ASSERT_NE(ownership, nullptr);
  Run([&]() -> asio::awaitable<void> {
    const Names hello = {"hello"};
    auto held = co_await ownership->Hold(hello, kA);
    EXPECT_TRUE(held.ok() && *held == hello);
    auto made = co_await Sql(
        "INSERT INTO forwarded_actions (project, kind, received_at_ms) "
        "VALUES ('hello', 'migrate', 0) RETURNING id");
    EXPECT_EQ(made.rows.size(), 1u);
    if (made.rows.size() != 1u) co_return;
    const std::string me = kA.id;
    auto took = co_await ownership->TakeForwarded(me);
    EXPECT_TRUE(took.ok() && took->empty()) << took.error();
    const int64_t id = std::stoll(made.rows[0][0].value_or("0"));
    auto got = co_await ownership->GetForwarded(id);
    EXPECT_EQ(got.code(), StatusCode::kInternal);
    EXPECT_EQ(got.error(), "project ownership: forwarded action " + std::to_string(id) +
                               " is a 'migrate', which this Anthill does not know");
  });
}

// Issue 12's bytes (a tag "v9\xe9", an actor "%ff") must not fail a
// forward: text is stored as U+FFFD.
TEST_F(PgProjectOwnershipTest, BytesThatAreNotUtf8AreStoredAsReplacementCharacters) {
  const std::string kFffd = "\xEF\xBF\xBD";
  OwnershipPtr ownership = Open();
  ASSERT_NE(ownership, nullptr);
  Run([&]() -> asio::awaitable<void> {
    ForwardedAction action = Deploy("hello", "refs/tags/v9\xe9");
    action.actor = "%ff\xff\xfe";
    auto id = co_await ownership->Forward(action);
    EXPECT_TRUE(id.ok()) << id.error();
    if (!id.ok()) co_return;
    const std::string answer("exit\0code \xff", 11);
    auto answered = co_await ownership->Answer(*id, answer);
    EXPECT_TRUE(answered.ok()) << answered.message();
    auto kept = co_await ownership->GetForwarded(*id);
    EXPECT_TRUE(kept.ok()) << kept.error();
    if (!kept.ok()) co_return;
    EXPECT_EQ(kept->ref, "refs/tags/v9" + kFffd);
    EXPECT_EQ(kept->actor, "%ff" + kFffd + kFffd);
    EXPECT_EQ(kept->answer, "exit" + kFffd + "code " + kFffd);

    // A project name with such bytes is held as it is stored.
    const Names odd = {"caf\xe9"};
    auto held = co_await ownership->Hold(odd, kA);
    EXPECT_TRUE(held.ok()) << held.error();
    EXPECT_EQ(*held, Names{"caf" + kFffd});
  });
}

// The holder hears of an action forwarded to it, and orchestrators waiting
// for a project hear of its release, without polling.
TEST_F(PgProjectOwnershipTest, ForwardsAndReleasesAreNotified) {
  OwnershipPtr a = Open(), b = Open();
  ASSERT_TRUE(a && b);
  std::unique_ptr<PgConnection> listener;
  Run([&]() -> asio::awaitable<void> {
    auto executor = io_.get_executor();
    auto conn = co_await PgConnection::Connect(executor, conninfo_);
    EXPECT_TRUE(conn.ok()) << conn.error();
    if (!conn.ok()) co_return;
    const std::string channel = kPgOwnersChannel;
    Status listening = co_await (*conn)->Listen(channel);
    EXPECT_TRUE(listening.ok()) << listening.message();
    listener = std::move(*conn);
  });
  ASSERT_NE(listener, nullptr);

  Run([&]() -> asio::awaitable<void> {
    const Names hello = {"hello"}, world = {"world"};
    auto held = co_await a->Hold(hello, kA);
    EXPECT_TRUE(held.ok() && *held == hello);
    const ForwardedAction deploy = Deploy("hello", "");
    auto id = co_await b->Forward(deploy);
    EXPECT_TRUE(id.ok()) << id.error();
    auto not_held = co_await b->Release(world, kB.id);  // nothing let go: no word
    auto released = co_await a->Release(hello, kA.id);
    EXPECT_TRUE(not_held.ok() && released.ok()) << released.message();
  });

  Names heard;
  Run([&]() -> asio::awaitable<void> {
    while (heard.size() < 2) {
      auto got = co_await listener->WaitForNotifications();
      EXPECT_TRUE(got.ok()) << got.error();
      if (!got.ok()) co_return;
      for (const auto& n : *got) {
        EXPECT_EQ(n.channel, kPgOwnersChannel);
        heard.push_back(n.payload);
      }
    }
  });
  EXPECT_EQ(heard, (Names{"forwarded:hello", "released:hello"}));
}

}  // namespace
}  // namespace anthill::store
