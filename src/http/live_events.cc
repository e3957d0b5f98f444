#include "http/live_events.h"

#include <set>

#include "http/json.h"
#include "http/reply.h"

namespace anthill::http {

namespace {

std::string Frame(const char* event, const nlohmann::json& data) {
  // Dump() never emits a raw newline, so the JSON is one `data:` line.
  return std::string("event: ") + event + "\ndata: " + Dump(data) + "\n\n";
}

// Notes which records changed (cheap, inside the store's write) and reads
// them only when the server asks for the next frames, so a burst of step
// updates to one deployment costs one read and one frame.
class ChangeStream : public EventSource {
 public:
  ChangeStream(store::ChangeSource* changes, store::AsyncRecordStore* record,
               const deploy::Controller* controller, std::string project)
      : record_(record), controller_(controller), project_(std::move(project)) {
    subscription_ = changes->changes().Subscribe([this](const store::Change& c) {
      if (c.kind == store::Change::Kind::kDeployment) {
        deployments_.insert(c.deployment_id);
      } else if (project_.empty() || c.project == project_) {
        projects_.insert(c.project);
      } else {
        return;
      }
      Wake();
    });
  }

  boost::asio::awaitable<std::string> Next() override {
    // Taken out before the first read: the feed keeps adding to the sets
    // while a read is suspended, and those changes are for the next call.
    std::set<int64_t> deployments;
    std::set<std::string> projects;
    deployments.swap(deployments_);
    projects.swap(projects_);
    std::string frames;
    for (int64_t id : deployments) {
      auto d = co_await record_->GetDeployment(id);
      if (!d.ok() || !d->has_value()) continue;
      if (!project_.empty() && (*d)->project != project_) continue;
      frames += Frame("deployment", ToJson(**d));
    }
    if (!projects.empty()) {
      for (const auto& p : controller_->Projects()) {
        if (projects.count(p.name)) frames += Frame("project", ToJson(p));
      }
    }
    co_return frames;
  }

 private:
  store::AsyncRecordStore* record_;
  const deploy::Controller* controller_;
  std::string project_;
  std::set<int64_t> deployments_;  // ordered: older changes are sent first
  std::set<std::string> projects_;
  store::ChangeFeed::Subscription subscription_;
};

}  // namespace

Response LiveEvents(store::ChangeSource* changes, store::AsyncRecordStore* record,
                    const deploy::Controller* controller, const std::string& machine,
                    const std::string& project) {
  Response r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
  // retry: how long a browser waits before reconnecting after a drop.
  r.body = "retry: 2000\n\n" + Frame("hello", {{"machine", machine}});
  r.events = std::make_shared<ChangeStream>(changes, record, controller, project);
  return r;
}

}  // namespace anthill::http
