#include "store/write_behind.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace anthill::store {

Result<bool> WriteBehind::Submit(Write write, const std::string& what) {
  if (!queue_.empty()) Flush();
  if (queue_.empty()) {
    Outcome o = write();
    if (o.status.ok()) return true;
    if (!o.transient) return o.status;
    if (last_error_ != o.status.message()) {
      last_error_ = o.status.message();
      spdlog::warn("store: {}; keeping writes in memory until the database takes them",
                   last_error_);
    }
  }
  queue_.push_back(Kept{std::move(write), what});
  return false;
}

size_t WriteBehind::Flush() {
  while (!queue_.empty()) {
    Outcome o = queue_.front().write();
    if (!o.status.ok() && o.transient) return queue_.size();
    if (!o.status.ok()) {
      spdlog::error("store: dropping a kept write ({}): {}", queue_.front().what,
                    o.status.message());
    }
    queue_.pop_front();
  }
  if (!last_error_.empty()) {
    spdlog::info("store: the database takes writes again; every kept write is made");
    last_error_.clear();
  }
  unsaved_.clear();
  return 0;
}

void WriteBehind::Overlay(std::vector<Deployment>& list,
                          const std::function<bool(const Deployment&)>& keep, size_t limit) const {
  if (unsaved_.empty()) return;
  for (auto& d : list) {
    auto it = unsaved_.find(d.id);
    if (it != unsaved_.end()) d = it->second;
  }
  bool added = false;
  for (const auto& [id, d] : unsaved_) {
    bool present =
        std::any_of(list.begin(), list.end(), [&](const Deployment& x) { return x.id == id; });
    if (!present && keep(d)) {
      list.push_back(d);
      added = true;
    }
  }
  if (added) {
    std::sort(list.begin(), list.end(),
              [](const Deployment& a, const Deployment& b) { return a.id > b.id; });
    if (list.size() > limit) list.resize(limit);
  }
}

Deployment* WriteBehind::UnsavedOwnerOfStep(int64_t step_id) {
  for (auto& [id, d] : unsaved_) {
    for (const auto& s : d.steps) {
      if (s.id == step_id) return &d;
    }
  }
  return nullptr;
}

}  // namespace anthill::store
