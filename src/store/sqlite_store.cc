// The SQLite backend of Store: one file (anthill.db in data_dir by default),
// WAL mode, the record half and the machine half over one connection.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

#include "store/async_record_store.h"
#include "store/sqlite_backend.h"
#include "store/sqlite_machine_store.h"
#include "store/sqlite_record_store.h"
#include "store/sqlite_schema.h"
#include "store/store.h"

namespace anthill::store {

namespace {

// Holds the backend first, so it is made before the halves that keep a
// reference to it and outlives them (bases are made in the order listed).
struct OwnsBackend {
  explicit OwnsBackend(std::unique_ptr<SqliteBackend> b) : backend(std::move(b)) {}
  std::unique_ptr<SqliteBackend> backend;
};

class SqliteStore final : private OwnsBackend,
                          public LocalStore,
                          public SqliteRecordStore,
                          public SqliteMachineStore {
 public:
  explicit SqliteStore(std::unique_ptr<SqliteBackend> b)
      : OwnsBackend(std::move(b)),
        SqliteRecordStore(*backend),
        SqliteMachineStore(*backend),
        async_(*this) {}

  ChangeFeed& changes() override { return backend->feed(); }
  AsyncRecordStore& async_record() override { return async_; }

  size_t FlushPendingWrites() override {
    WriteBehind& behind = backend->behind();
    if (behind.size() == 0) return 0;
    std::vector<int64_t> ids;
    for (const auto& [id, d] : behind.unsaved()) ids.push_back(id);
    size_t left = behind.Flush();
    if (left == 0) {
      for (int64_t id : ids) backend->PublishDeployment(id);
    }
    return left;
  }
  size_t pending_writes() const override { return backend->behind().size(); }

 private:
  ImmediateRecordStore async_;
};

}  // namespace

Result<std::unique_ptr<LocalStore>> OpenSqlite(const std::filesystem::path& file,
                                               std::string_view machine) {
  auto db = Db::Open(file.string());
  if (!db.ok()) return db.status();
  auto backend = std::make_unique<SqliteBackend>(std::move(db.value()), std::string(machine));
  Db& handle = backend->db();
  Status s = MigrateSchema(handle);
  if (s.ok()) s = AdoptUnnamedRows(handle, machine);
  if (!s.ok()) return s.Prefixed("database " + file.string());
  if (!machine.empty()) {
    // A renamed machine is a new machine: what the old name recorded stays
    // its own. Said once here, since it is easy to do by accident (machine
    // defaults to the host name).
    auto others = OtherMachines(handle, machine);
    if (others.ok() && !others->empty()) {
      std::string names;
      for (const auto& m : *others) names += (names.empty() ? "'" : ", '") + m + "'";
      spdlog::warn(
          "database {} has programs, holds or unfinished deployments recorded for machine {}, "
          "and this is machine '{}': they stay that machine's (its programs are not re-adopted "
          "here, its deployments not marked interrupted); set [server] machine to the old name "
          "to take them over",
          file.string(), names, machine);
    }
  }
  auto store = std::make_unique<SqliteStore>(std::move(backend));
  store->LoadNextIds();
  return std::unique_ptr<LocalStore>(std::move(store));
}

}  // namespace anthill::store
