// What the SQLite store's record half and machine half share: one
// connection, one queue of the writes the database could not take (kept in
// order across both halves: a promote must not overtake the deployment
// update before it), one change feed, and the machine the store is for.
// Internal to store/.
// Thread: the owner's (the Store's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "store/change_feed.h"
#include "store/sqlite.h"
#include "store/write_behind.h"

namespace anthill::store {

class SqliteBackend {
 public:
  SqliteBackend(std::unique_ptr<Db> db, std::string machine)
      : db_(std::move(db)), machine_(std::move(machine)) {}

  Db& db() { return *db_; }
  WriteBehind& behind() { return behind_; }
  const WriteBehind& behind() const { return behind_; }
  ChangeFeed& feed() { return feed_; }
  const std::string& machine() const { return machine_; }

  // A write's status and whether its failure may pass (see WriteBehind).
  WriteBehind::Outcome Outcome(Status s) const;
  // Makes `write` now, or keeps it when the database cannot take it now
  // (then it reports ok: the write will be made). `what` names it in logs.
  Status Deferrable(const std::string& what, std::function<Status()> write);

  void PublishDeployment(int64_t id) const;
  void PublishProject(std::string_view project) const;

 private:
  std::unique_ptr<Db> db_;
  std::string machine_;
  WriteBehind behind_;
  ChangeFeed feed_;
};

}  // namespace anthill::store
