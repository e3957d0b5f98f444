#include "store/pg_store.h"

#include <spdlog/spdlog.h>

#include "base/event.h"
#include "store/pg_change_listener.h"
#include "store/pg_record_store.h"
#include "store/pg_record_writer.h"

namespace anthill::store {

namespace {

namespace asio = boost::asio;

// How long a read waits for the writes submitted before it. Past it, the
// read goes on and shows the record without them. While the writer cannot
// reach the database a read does not wait at all: it would most likely fail
// as unavailable anyway, and the API answers 503 at once, not 10 s later.
constexpr Duration kReadAfterWrites{10000};
// How long a close waits for the writes kept.
constexpr Duration kCloseWait{5000};

// The record as coroutines call it: each call first waits for the writes
// submitted before it (so a caller reads what it wrote), then asks
// PostgreSQL.
class OrderedRecord final : public AsyncRecordStore {
 public:
  OrderedRecord(PgRecordStore& pg, PgRecordWriter& writer) : pg_(pg), writer_(writer) {}

  Awaitable<Result<int64_t>> CreateDeployment(Deployment d) override {
    co_await After();
    co_return co_await pg_.CreateDeployment(std::move(d));
  }
  Awaitable<Status> UpdateDeployment(Deployment d) override {
    co_await After();
    co_return co_await pg_.UpdateDeployment(std::move(d));
  }
  Awaitable<Result<int64_t>> StartStep(int64_t deployment_id, StepName name,
                                       TimePoint started_at) override {
    co_await After();
    co_return co_await pg_.StartStep(deployment_id, name, started_at);
  }
  Awaitable<Status> FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                               std::string error) override {
    co_await After();
    co_return co_await pg_.FinishStep(step_id, status, finished_at, std::move(error));
  }
  Awaitable<Result<std::optional<Deployment>>> GetDeployment(int64_t id) override {
    co_await After();
    co_return co_await pg_.GetDeployment(id);
  }
  Awaitable<Result<std::vector<Deployment>>> ListDeployments(DeploymentFilter f) override {
    co_await After();
    co_return co_await pg_.ListDeployments(std::move(f));
  }
  Awaitable<Result<RecordStore::Neighbours>> DeploymentNeighbours(int64_t id,
                                                                  std::string project) override {
    co_await After();
    co_return co_await pg_.DeploymentNeighbours(id, std::move(project));
  }
  Awaitable<Result<std::optional<Deployment>>> LatestDeployment(
      std::string project, std::optional<DeploymentStatus> status) override {
    co_await After();
    co_return co_await pg_.LatestDeployment(std::move(project), status);
  }
  Awaitable<Result<std::vector<RecordStore::StatusCount>>> CountDeployments() override {
    co_await After();
    co_return co_await pg_.CountDeployments();
  }
  Awaitable<Result<int>> InterruptUnfinished(TimePoint now, std::string why) override {
    co_await After();
    co_return co_await pg_.InterruptUnfinished(now, std::move(why));
  }
  // After the writes submitted before it, as every call: one of them (an
  // update of the project's deployment) landing after the interrupt would
  // undo it.
  Awaitable<Result<int>> InterruptUnfinishedOfProject(TimePoint now, std::string project,
                                                      std::string why) override {
    co_await After();
    co_return co_await pg_.InterruptUnfinishedOfProject(now, std::move(project), std::move(why));
  }
  Awaitable<Result<std::optional<int64_t>>> RecordHookEvent(HookEvent e) override {
    co_await After();
    co_return co_await pg_.RecordHookEvent(std::move(e));
  }
  Awaitable<Status> SetHookVerdict(int64_t id, std::string verdict) override {
    co_await After();
    co_return co_await pg_.SetHookVerdict(id, std::move(verdict));
  }
  Awaitable<Result<std::vector<HookEvent>>> ListHookEvents(int limit, int64_t before_id) override {
    co_await After();
    co_return co_await pg_.ListHookEvents(limit, before_id);
  }
  Awaitable<Status> AddPin(Pin pin) override {
    co_await After();
    co_return co_await pg_.AddPin(std::move(pin));
  }
  Awaitable<Status> RemovePin(std::string project, std::string commit) override {
    co_await After();
    co_return co_await pg_.RemovePin(std::move(project), std::move(commit));
  }
  Awaitable<Result<std::vector<Pin>>> ListPins(std::string project) override {
    co_await After();
    co_return co_await pg_.ListPins(std::move(project));
  }

 private:
  Awaitable<void> After() {
    if (writer_.failing()) co_return;
    (void)co_await writer_.Drained(kReadAfterWrites);
  }

  PgRecordStore& pg_;
  PgRecordWriter& writer_;
};

class PgStore final : public Store {
 public:
  PgStore(asio::any_io_executor executor, const std::string& conninfo,
          std::shared_ptr<PgRecordStore> pg, std::unique_ptr<LocalStore> local)
      : pg_(std::move(pg)),
        local_(std::move(local)),
        writer_(
            std::make_shared<PgRecordWriter>(executor, pg_,
                                             [this](int64_t id) {
                                               feed_.Publish({Change::Kind::kDeployment, id, ""});
                                             })),
        ordered_(*pg_, *writer_),
        listener_(executor, conninfo, feed_),
        local_changes_(local_->changes().Subscribe([this](const Change& c) { feed_.Publish(c); })) {
  }

  // The writer's coroutine may outlive the store (it holds the writer and
  // the record); it is told to stop, and Close has waited for it.
  ~PgStore() override {
    listener_.Stop();
    writer_->Stop();
  }

  asio::awaitable<void> Close() override {
    listener_.Stop();
    writer_->Stop();
    (void)co_await writer_->Drained(kCloseWait);
  }

  // Reserves ids and starts writing; starts listening and waits (bounded)
  // until LISTEN is in effect, so every change committed after the open is
  // heard. A listener not up in time keeps trying on its own.
  asio::awaitable<Status> Start() {
    Status s = co_await writer_->Start();
    if (!s.ok()) co_return s;
    listener_.Start();
    for (int i = 0; i < 500 && !listener_.listening(); ++i) co_await SleepFor(Duration(10));
    if (!listener_.listening()) {
      spdlog::warn("store: not yet listening for changes made by other processes: {}",
                   listener_.last_error().message());
    }
    co_return Status::Ok();
  }

  // RecordWriter: in order, through the writer.
  Result<int64_t> CreateDeployment(const Deployment& d) override {
    return writer_->CreateDeployment(d);
  }
  Status UpdateDeployment(const Deployment& d) override { return writer_->UpdateDeployment(d); }
  Result<int64_t> StartStep(int64_t deployment_id, StepName name, TimePoint started_at) override {
    return writer_->StartStep(deployment_id, name, started_at);
  }
  Status FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                    std::string_view error) override {
    return writer_->FinishStep(step_id, status, finished_at, error);
  }
  Status SetHookVerdict(int64_t id, std::string_view verdict) override {
    return writer_->SetHookVerdict(id, verdict);
  }
  Status AddPin(const Pin& pin) override { return writer_->AddPin(pin); }
  Status RemovePin(std::string_view project, std::string_view commit) override {
    return writer_->RemovePin(project, commit);
  }

  // MachineStore: this machine's own file.
  const std::string& machine() const override { return local_->machine(); }
  Result<int64_t> AddProgramEvent(const ProgramEvent& e) override {
    return local_->AddProgramEvent(e);
  }
  Result<std::vector<ProgramEvent>> ListProgramEvents(std::string_view project,
                                                      int limit) override {
    return local_->ListProgramEvents(project, limit);
  }
  Result<int64_t> CountProgramEvents(std::string_view project, ProgramEventKind kind,
                                     TimePoint since) override {
    return local_->CountProgramEvents(project, kind, since);
  }
  Status SetHeld(std::string_view project, bool held) override {
    return local_->SetHeld(project, held);
  }
  Result<bool> IsHeld(std::string_view project) override { return local_->IsHeld(project); }
  Status PutProcess(const Process& p) override { return local_->PutProcess(p); }
  Status DeleteProcess(std::string_view project) override { return local_->DeleteProcess(project); }
  Result<std::optional<Process>> GetProcess(std::string_view project) override {
    return local_->GetProcess(project);
  }
  Result<std::vector<Process>> ListProcesses() override { return local_->ListProcesses(); }
  Status PutCandidate(const Process& p) override { return local_->PutCandidate(p); }
  Status DeleteCandidate(std::string_view project) override {
    return local_->DeleteCandidate(project);
  }
  Result<std::optional<Process>> GetCandidate(std::string_view project) override {
    return local_->GetCandidate(project);
  }
  Status PromoteCandidate(std::string_view project) override {
    return local_->PromoteCandidate(project);
  }

  ChangeFeed& changes() override { return feed_; }
  AsyncRecordStore& async_record() override { return ordered_; }

  // The writer makes its writes by itself; this only counts what is left
  // (and gives the local file's kept writes their chance).
  size_t FlushPendingWrites() override { return local_->FlushPendingWrites() + writer_->pending(); }
  size_t pending_writes() const override { return local_->pending_writes() + writer_->pending(); }

 private:
  std::shared_ptr<PgRecordStore> pg_;
  std::unique_ptr<LocalStore> local_;
  ChangeFeed feed_;
  std::shared_ptr<PgRecordWriter> writer_;
  OrderedRecord ordered_;
  PgChangeListener listener_;
  ChangeFeed::Subscription local_changes_;
};

}  // namespace

asio::awaitable<Result<std::unique_ptr<Store>>> OpenPostgres(asio::any_io_executor executor,
                                                             std::string conninfo,
                                                             std::string machine,
                                                             std::filesystem::path machine_file) {
  auto local = OpenSqlite(machine_file, machine);
  if (!local.ok()) co_return local.status();
  auto pg = co_await PgRecordStore::Open(executor, conninfo, machine);
  if (!pg.ok()) co_return pg.status();
  auto store = std::make_unique<PgStore>(executor, conninfo, std::move(pg.value()),
                                         std::move(local.value()));
  Status started = co_await store->Start();
  if (!started.ok()) co_return started.Prefixed("store: reserving ids");
  co_return std::unique_ptr<Store>(std::move(store));
}

}  // namespace anthill::store
