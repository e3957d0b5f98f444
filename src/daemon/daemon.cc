#include "daemon/daemon.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>
#include <type_traits>

#include "base/event.h"
#include "daemon/fleet.h"
#include "daemon/holding.h"
#include "daemon/registry.h"
#include "daemon/roles.h"
#include "deploy/project_runner.h"
#include "http/api.h"
#include "http/server.h"
#include "os/lock.h"
#include "os/process.h"
#include "os/signals.h"
#include "store/database.h"
#include "store/store.h"

namespace anthill::daemon {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// How long a clean stop waits for builds in flight to notice and record it.
constexpr Duration kShutdownGrace{15000};

// Runs `task` on `io` until it ends, before anything else is started
// (start-up: opening the store, marking a previous life's rows).
template <typename T>
T RunToEnd(asio::io_context& io, asio::awaitable<T> task) {
  bool done = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        if constexpr (std::is_void_v<T>) {
          co_await std::move(task);
        } else {
          out.emplace(co_await std::move(task));
        }
        done = true;
      },
      asio::detached);
  while (!done) {
    if (io.stopped()) io.restart();
    io.run_one();
  }
  // Out of work once the task ended, the loop stopped itself: ready it for
  // run(), which would otherwise return at once.
  if (io.stopped()) io.restart();
  if constexpr (!std::is_void_v<T>) return std::move(*out);
}

// A SQLite file outside the data dir gets a lock of its own, held in *lock:
// Anthill gives the ids of deployments and steps itself, so two writing one
// file would give the same ones. (PostgreSQL gives them from its sequences.)
Status LockDatabaseFile(const config::Config& config, const store::Database& database,
                        std::optional<os::FileLock>* lock) {
  if (!database.postgres.empty()) return Status::Ok();
  if (database.sqlite_file == fs::path(config.server.data_dir) / "anthill.db") return Status::Ok();
  auto held = os::FileLock::Acquire(database.sqlite_file.string() + ".lock");
  if (!held.ok()) return held.status().Prefixed("database " + database.sqlite_file.string());
  lock->emplace(std::move(held.value()));
  return Status::Ok();
}

// Rows still running belong to a previous life that ended without recording
// it (a crash, a power cut): say so, honestly, before anything new. Another
// process may hold a SQLite database for a moment: nothing runs yet, so
// trying again here, bounded, stalls no one.
asio::awaitable<void> MarkPreviousLife(store::AsyncRecordStore& record) {
  const std::string why = "anthill stopped before it finished";
  TimePoint now = Now();
  auto interrupted = co_await record.InterruptUnfinished(now, why);
  for (int tries = 0; !interrupted.ok() && tries < 100; ++tries) {
    now = Now();
    interrupted = co_await record.InterruptUnfinished(now, why);
  }
  if (!interrupted.ok()) {
    spdlog::error("cannot mark what a previous life left unfinished: {}", interrupted.error());
  } else if (*interrupted > 0) {
    spdlog::warn("{} deployment(s) were in progress when anthill last stopped: marked interrupted",
                 *interrupted);
  }
}

// Who this orchestrator is to the others on its database: one life of one
// process on one machine.
store::OrchestratorId OrchestratorIdOf(const config::Config& config) {
  store::OrchestratorId me;
  me.machine = config.server.machine;
  std::random_device random;
  char life[17];
  std::snprintf(life, sizeof life, "%08x%08x", random(), random());
  me.id = config.server.machine + "/" + life;
  me.url = "http://" + config.server.listen;
  return me;
}

}  // namespace

Result<store::Database> DatabaseOf(const config::Config& config) {
  auto database = store::ParseDatabase(config.server.database, config.server.data_dir, config.dir);
  if (!database.ok()) return database.status().Prefixed(config.file.string());
  return database;
}

int Serve(const config::Config& config) {
  const fs::path data_dir = config.server.data_dir;
  // A value Anthill cannot use is a config error: refused before anything
  // is made or locked.
  auto database = DatabaseOf(config);
  if (!database.ok()) {
    std::cerr << "anthill: " << database.error() << "\n";
    return 2;  // the config's exit code (README, CLI)
  }
  if (Status roles = CheckRoles(config, *database); !roles.ok()) {
    std::cerr << "anthill: " << roles.message() << "\n";
    return 2;
  }
  // Before anything is started: programs and builds get the old limit back.
  os::RaiseOpenFileLimit();
  std::error_code ec;
  for (const char* sub : {"", "logs/build", "logs/app", "projects", "tmp"}) {
    fs::create_directories(data_dir / sub, ec);
    if (ec) {
      std::cerr << "anthill: cannot create " << (data_dir / sub).string() << ": " << ec.message()
                << "\n";
      return 1;
    }
  }
  auto lock = os::FileLock::Acquire(data_dir / "anthill.lock");
  if (!lock.ok()) {
    std::cerr << "anthill: " << lock.error() << "\n";
    return 1;
  }
  std::optional<os::FileLock> database_lock;
  if (Status locked = LockDatabaseFile(config, *database, &database_lock); !locked.ok()) {
    std::cerr << "anthill: " << locked.message() << "\n";
    return 1;
  }
  // The store is destroyed before the io_context its connections wait on;
  // its own coroutines hold what they use (pg_store.h) and are ended by
  // Close on the way out.
  asio::io_context io;
  std::unique_ptr<store::Store> store;
  {
    auto opened =
        RunToEnd(io, anthill::store::Open(io.get_executor(), *database, config.server.machine));
    if (!opened.ok()) {
      std::cerr << "anthill: " << opened.error() << "\n";
      return 1;
    }
    store = std::move(opened.value());
  }
  const config::Roles& roles = config.server.roles;
  // In PostgreSQL the record is shared: builds go through the fleet's
  // queue, whichever process builds them (this one too, with the builder
  // role).
  std::unique_ptr<FleetParts> fleet;
  if (!database->postgres.empty()) {
    auto opened = RunToEnd(io, OpenFleet(io.get_executor(), config, *database, *store));
    if (!opened.ok()) {
      std::cerr << "anthill: " << opened.error() << "\n";
      RunToEnd(io, store->Close());
      return opened.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
    }
    fleet = std::move(opened.value());
  }
  if (roles.orchestrator) RunToEnd(io, MarkPreviousLife(store->async_record()));
  deploy::Context ctx;
  ctx.executor = io.get_executor();
  ctx.store = store.get();
  ctx.record = &store->async_record();
  ctx.data_dir = data_dir;
  ctx.machine = config.server.machine;
  ctx.fleet = fleet ? &fleet->deploy : nullptr;
  store::ProjectOwnership* ownership = fleet ? fleet->ownership.get() : nullptr;
  const store::OrchestratorId me = OrchestratorIdOf(config);
  const std::vector<config::Project> none;
  Registry projects(ctx, roles.orchestrator ? config.projects : none,
                    config.server.max_parallel_builds, ownership, me);
  if (!roles.orchestrator && !config.projects.empty()) {
    spdlog::info("{} project(s) in the config are the orchestrator's: not watched here",
                 config.projects.size());
  }
  // Alone on its record, this process holds every project; sharing one
  // (PostgreSQL), it holds those no other orchestrator does.
  std::unique_ptr<ProjectHolding> holding;
  if (ownership != nullptr) {
    ProjectHolding::Options options;
    options.artifacts_kept_here = fleet->local_artifacts != nullptr;
    holding = std::make_unique<ProjectHolding>(io.get_executor(), *ownership, store->async_record(),
                                               projects, me, options);
  }

  // The API and the UI are the orchestrator's; a builder alone serves none.
  std::unique_ptr<http::Server> server;
  int requests_in_flight = 0;  // answers under way: the stores they use outlive them
  if (roles.orchestrator) {
    http::ApiContext api{store.get(), &projects, data_dir, config.server.machine,
                         config.server.token};
    api.allowed_hosts = config.server.allowed_hosts;
    api.record = &store->async_record();
    api.artifacts = fleet ? fleet->local_artifacts.get() : nullptr;
    api.build_queue = fleet ? fleet->queue.get() : nullptr;
    api.agents = fleet ? fleet->agents.get() : nullptr;
    api.agent_artifacts = {config.artifacts.store, config.artifacts.endpoint,
                           config.artifacts.region};
    api.in_flight = &requests_in_flight;
    server = std::make_unique<http::Server>(io, http::MakeApi(api));
    Status listening = server->Listen(config.server.listen);
    if (!listening.ok()) {
      std::cerr << "anthill: " << listening.message() << "\n";
      if (fleet) fleet->Shutdown();
      RunToEnd(io, store->Close());
      return 1;
    }
    spdlog::info("anthill {} serving on http://{} (data in {}, {} project(s), roles {})",
                 ANTHILL_VERSION, config.server.listen, data_dir.string(), config.projects.size(),
                 roles.Describe());
  } else {
    spdlog::info("anthill {} started (data in {}, roles {})", ANTHILL_VERSION, data_dir.string(),
                 roles.Describe());
  }
  if (holding) {
    holding->Start();
  } else {
    for (const auto& name : projects.Names()) projects.Take(name);
  }
  if (fleet && fleet->builder) fleet->builder->Start();
  // Writes the database could not take (locked by another process, disk
  // full) are kept in memory; this makes them as soon as it takes them.
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (;;) {
          co_await SleepFor(Duration(250));
          if (store->pending_writes() > 0) (void)store->FlushPendingWrites();
        }
      },
      asio::detached);

  bool stopping = false;
  os::HandleTerminationSignals(io, [&](int sig) {
    if (stopping) return;
    stopping = true;
    spdlog::info("{}: stopping (deployed programs keep running)", os::SignalName(sig));
    if (server) server->Stop();
    if (holding) holding->Stop();
    projects.Shutdown();
    if (fleet) fleet->Shutdown();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto deadline = std::chrono::steady_clock::now() + kShutdownGrace;
          auto all_done = [&] {
            return projects.AllDone() && (!holding || holding->done()) &&
                   (!fleet || fleet->done()) && requests_in_flight == 0;
          };
          while (!all_done() && std::chrono::steady_clock::now() < deadline) {
            co_await SleepFor(Duration(20));
          }
          // What the database could not take yet gets a last chance (bounded).
          for (int tries = 0; tries < 20 && store->FlushPendingWrites() > 0; ++tries) {
            co_await SleepFor(Duration(100));
          }
          if (size_t lost = store->pending_writes(); lost > 0) {
            spdlog::error("{} record write(s) could not be made before stopping: {}", lost,
                          "the database is locked or its disk full");
          }
          if (roles.orchestrator) {
            const std::string why = "anthill stopped before it finished";
            const TimePoint now = Now();
            (void)co_await store->async_record().InterruptUnfinished(now, why);
          }
          // Another orchestrator may take this one's projects at once.
          if (holding) co_await holding->ReleaseAll();
          co_await store->Close();
          io.stop();
        },
        asio::detached);
  });
  io.run();
  spdlog::info("stopped");
  return 0;
}

}  // namespace anthill::daemon
