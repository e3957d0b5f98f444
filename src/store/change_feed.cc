#include "store/change_feed.h"

#include <vector>

namespace anthill::store {

ChangeFeed::Subscription::~Subscription() { Reset(); }

void ChangeFeed::Subscription::Reset() {
  if (auto subscribers = subscribers_.lock()) subscribers->erase(id_);
  subscribers_.reset();
}

ChangeFeed::Subscription& ChangeFeed::Subscription::operator=(Subscription&& other) {
  if (this != &other) {
    Reset();
    subscribers_ = std::move(other.subscribers_);
    id_ = other.id_;
    other.subscribers_.reset();
  }
  return *this;
}

ChangeFeed::ChangeFeed() : subscribers_(std::make_shared<std::map<int64_t, Callback>>()) {}

ChangeFeed::Subscription ChangeFeed::Subscribe(Callback callback) {
  Subscription s;
  s.id_ = next_id_++;
  s.subscribers_ = subscribers_;
  (*subscribers_)[s.id_] = std::move(callback);
  return s;
}

void ChangeFeed::Publish(const Change& change) const {
  // A copy: a callback may end its own (or another) subscription.
  std::vector<Callback> callbacks;
  callbacks.reserve(subscribers_->size());
  for (const auto& [id, cb] : *subscribers_) callbacks.push_back(cb);
  for (const auto& cb : callbacks) cb(change);
}

}  // namespace anthill::store
