#include "store/pg_record_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <chrono>

namespace anthill::store {

namespace {

namespace asio = boost::asio;

constexpr size_t kLowWater = 16;  // ids kept reserved of each kind, at least
constexpr int kBlock = 64;        // reserved at a time
constexpr Duration kFirstBackoff{100};
constexpr Duration kMaxBackoff{5000};

}  // namespace

PgRecordWriter::PgRecordWriter(asio::any_io_executor executor, std::shared_ptr<PgRecordStore> pg,
                               std::function<void(int64_t)> changed)
    : executor_(executor),
      pg_(std::move(pg)),
      changed_(std::move(changed)),
      wake_(executor),
      progress_(executor) {}

PgRecordWriter::~PgRecordWriter() = default;

asio::awaitable<Status> PgRecordWriter::Start() {
  Status s = co_await Refill();
  if (!s.ok()) co_return s;
  asio::co_spawn(
      executor_, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->Run(); },
      asio::detached);
  co_return Status::Ok();
}

void PgRecordWriter::Stop() {
  stopping_ = true;
  wake_.Set();
}

asio::awaitable<bool> PgRecordWriter::Drained(Duration timeout) {
  const uint64_t target = submitted_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (done_ < target) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) co_return false;
    progress_.Reset();
    (void)co_await progress_.Wait(std::chrono::duration_cast<Duration>(left) + Duration(1));
  }
  co_return true;
}

Result<int64_t> PgRecordWriter::TakeId(std::deque<int64_t>& ids, const char* kind) {
  if (ids.size() < kLowWater) wake_.Set();  // the writer reserves more
  if (ids.empty()) {
    return Status::Unavailable(std::string("store: no ") + kind +
                               " id is reserved: the database has not answered" +
                               (last_error_.empty() ? "" : " (" + last_error_ + ")"));
  }
  const int64_t id = ids.front();
  ids.pop_front();
  return id;
}

void PgRecordWriter::Submit(Write w) {
  queue_.push_back(std::move(w));
  ++submitted_;
  wake_.Set();
}

Result<int64_t> PgRecordWriter::CreateDeployment(const Deployment& d) {
  auto id = TakeId(deployment_ids_, "deployment");
  if (!id.ok()) return id.status();
  Write w;
  w.kind = Write::Kind::kCreateDeployment;
  w.deployment = d;
  w.deployment.id = *id;
  w.deployment.steps.clear();
  Submit(std::move(w));
  if (changed_) changed_(*id);
  return *id;
}

Status PgRecordWriter::UpdateDeployment(const Deployment& d) {
  Write w;
  w.kind = Write::Kind::kUpdateDeployment;
  w.deployment = d;
  w.deployment.steps.clear();
  Submit(std::move(w));
  if (changed_) changed_(d.id);
  return Status::Ok();
}

Result<int64_t> PgRecordWriter::StartStep(int64_t deployment_id, StepName name,
                                          TimePoint started_at) {
  auto id = TakeId(step_ids_, "step");
  if (!id.ok()) return id.status();
  Write w;
  w.kind = Write::Kind::kStartStep;
  w.id = *id;
  w.deployment_id = deployment_id;
  w.step = name;
  w.at = started_at;
  Submit(std::move(w));
  if (changed_) changed_(deployment_id);
  return *id;
}

Status PgRecordWriter::FinishStep(int64_t step_id, StepStatus status, TimePoint finished_at,
                                  std::string_view error) {
  Write w;
  w.kind = Write::Kind::kFinishStep;
  w.id = step_id;
  w.step_status = status;
  w.at = finished_at;
  w.text = std::string(error);
  Submit(std::move(w));
  return Status::Ok();
}

Status PgRecordWriter::SetHookVerdict(int64_t id, std::string_view verdict) {
  Write w;
  w.kind = Write::Kind::kHookVerdict;
  w.id = id;
  w.text = std::string(verdict);
  Submit(std::move(w));
  return Status::Ok();
}

Status PgRecordWriter::AddPin(const Pin& pin) {
  Write w;
  w.kind = Write::Kind::kAddPin;
  w.pin = pin;
  Submit(std::move(w));
  return Status::Ok();
}

Status PgRecordWriter::RemovePin(std::string_view project, std::string_view commit) {
  Write w;
  w.kind = Write::Kind::kRemovePin;
  w.pin.project = std::string(project);
  w.pin.commit = std::string(commit);
  Submit(std::move(w));
  return Status::Ok();
}

asio::awaitable<Status> PgRecordWriter::Make(const Write& w) {
  using K = Write::Kind;
  switch (w.kind) {
    case K::kCreateDeployment: {
      Deployment d = w.deployment;
      auto id = co_await pg_->CreateDeployment(d);
      co_return id.status();
    }
    case K::kUpdateDeployment: {
      Deployment d = w.deployment;
      co_return co_await pg_->UpdateDeployment(d);
    }
    case K::kStartStep: {
      const int64_t id = w.id;
      const int64_t deployment_id = w.deployment_id;
      const StepName step = w.step;
      const TimePoint at = w.at;
      auto made = co_await pg_->StartStepWithId(id, deployment_id, step, at);
      co_return made.status();
    }
    case K::kFinishStep: {
      const int64_t id = w.id;
      const StepStatus status = w.step_status;
      const TimePoint at = w.at;
      std::string error = w.text;
      co_return co_await pg_->FinishStep(id, status, at, error);
    }
    case K::kHookVerdict: {
      const int64_t id = w.id;
      std::string verdict = w.text;
      co_return co_await pg_->SetHookVerdict(id, verdict);
    }
    case K::kAddPin: {
      Pin pin = w.pin;
      co_return co_await pg_->AddPin(pin);
    }
    case K::kRemovePin: {
      std::string project = w.pin.project;
      std::string commit = w.pin.commit;
      co_return co_await pg_->RemovePin(project, commit);
    }
  }
  co_return Status::Error("store: unknown write");
}

std::string PgRecordWriter::Describe(const Write& w) {
  using K = Write::Kind;
  switch (w.kind) {
    case K::kCreateDeployment:
      return "insert deployment " + std::to_string(w.deployment.id);
    case K::kUpdateDeployment:
      return "update deployment " + std::to_string(w.deployment.id);
    case K::kStartStep:
      return "insert step " + std::to_string(w.id);
    case K::kFinishStep:
      return "finish step " + std::to_string(w.id);
    case K::kHookVerdict:
      return "verdict of hook delivery " + std::to_string(w.id);
    case K::kAddPin:
      return "pin " + w.pin.commit;
    case K::kRemovePin:
      return "unpin " + w.pin.commit;
  }
  return "write";
}

asio::awaitable<Status> PgRecordWriter::Refill() {
  if (deployment_ids_.size() < kLowWater) {
    auto ids = co_await pg_->ReserveDeploymentIds(kBlock);
    if (!ids.ok()) co_return ids.status();
    deployment_ids_.insert(deployment_ids_.end(), ids->begin(), ids->end());
  }
  if (step_ids_.size() < kLowWater) {
    auto ids = co_await pg_->ReserveStepIds(kBlock);
    if (!ids.ok()) co_return ids.status();
    step_ids_.insert(step_ids_.end(), ids->begin(), ids->end());
  }
  co_return Status::Ok();
}

asio::awaitable<void> PgRecordWriter::Backoff(const Status& failure, Duration& backoff) {
  if (failure.message() != last_error_) {
    spdlog::warn("store: {} write(s) kept until the database takes them: {}", queue_.size(),
                 failure.message());
    last_error_ = failure.message();
  }
  co_await SleepFor(backoff);
  backoff = std::min(backoff * 2, kMaxBackoff);
}

asio::awaitable<void> PgRecordWriter::Run() {
  Duration backoff = kFirstBackoff;
  while (!(stopping_ && queue_.empty())) {
    if (!stopping_) {
      if (Status s = co_await Refill(); !s.ok()) {
        co_await Backoff(s, backoff);
        continue;
      }
    }
    if (queue_.empty()) {
      wake_.Reset();
      if (!stopping_) (void)co_await wake_.Wait(kUntilWoken);
      continue;
    }
    const Write& w = queue_.front();
    Status s = co_await Make(w);
    if (!s.ok() && s.code() == StatusCode::kUnavailable) {
      co_await Backoff(s, backoff);
      continue;
    }
    const bool made_before =
        s.code() == StatusCode::kConflict &&
        (w.kind == Write::Kind::kCreateDeployment || w.kind == Write::Kind::kStartStep);
    if (!s.ok() && !made_before) {
      spdlog::error("store: {} dropped: {}", Describe(w), s.message());
    }
    if (!last_error_.empty()) {
      spdlog::info("store: the database takes writes again");
      last_error_.clear();
    }
    backoff = kFirstBackoff;
    queue_.pop_front();
    ++done_;
    progress_.Set();
  }
  progress_.Set();
}

}  // namespace anthill::store
