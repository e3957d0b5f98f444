// One machine's state (machine_store.h) in the SQLite file: every row it
// reads or writes has machine = the backend's machine. Internal to store/:
// SqliteStore combines it with the record half.
// Thread: the owner's (the Store's).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/machine_store.h"
#include "store/sqlite_backend.h"

namespace anthill::store {

class SqliteMachineStore : public virtual MachineStore {
 public:
  explicit SqliteMachineStore(SqliteBackend& backend) : b_(backend) {}

  const std::string& machine() const override { return b_.machine(); }
  Result<int64_t> AddProgramEvent(const ProgramEvent& e) override;
  Result<std::vector<ProgramEvent>> ListProgramEvents(std::string_view project, int limit) override;
  Result<int64_t> CountProgramEvents(std::string_view project, ProgramEventKind kind,
                                     TimePoint since) override;
  Status SetHeld(std::string_view project, bool held) override;
  Result<bool> IsHeld(std::string_view project) override;
  Status PutProcess(const Process& p) override;
  Status DeleteProcess(std::string_view project) override;
  Result<std::optional<Process>> GetProcess(std::string_view project) override;
  Result<std::vector<Process>> ListProcesses() override;
  Status PutCandidate(const Process& p) override;
  Status DeleteCandidate(std::string_view project) override;
  Result<std::optional<Process>> GetCandidate(std::string_view project) override;
  Status PromoteCandidate(std::string_view project) override;

 private:
  // processes and candidates have the same columns; `table` is one of the
  // two names, never outside input.
  Status Put(const std::string& table, const Process& p);
  Status Delete(const std::string& table, std::string_view project);
  Result<std::optional<Process>> GetOne(const std::string& table, std::string_view project);
  // Empty project: all of this machine's.
  Result<std::vector<Process>> Processes(const std::string& table, std::string_view project);
  Status Promote(const std::string& project);

  SqliteBackend& b_;
};

}  // namespace anthill::store
