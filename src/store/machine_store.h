// Per-machine state: what one machine runs (the recorded process and the
// candidate of each project), what was stopped there by hand (holds), and
// its programs' events. Rows are keyed by (machine, project); a MachineStore
// is one machine's view, opened for that machine, and reads and writes its
// rows only, so calls name the project alone.
//
// In a fleet this stays on the machine (an agent's local SQLite): it is what
// re-adoption reads after a restart, which must not wait for the network.
//
// Thread: the io_context thread. Synchronous; a write the database cannot
// take now is kept and made later, like the record's (store/write_behind.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/records.h"

namespace anthill::store {

class MachineStore {
 public:
  virtual ~MachineStore() = default;

  // The machine whose rows this store reads and writes ([server] machine).
  virtual const std::string& machine() const = 0;

  virtual Result<int64_t> AddProgramEvent(const ProgramEvent& e) = 0;
  // Newest first; empty project: all of this machine's.
  virtual Result<std::vector<ProgramEvent>> ListProgramEvents(std::string_view project,
                                                              int limit) = 0;
  // How many events of `kind` a project has had since `since`.
  virtual Result<int64_t> CountProgramEvents(std::string_view project, ProgramEventKind kind,
                                             TimePoint since) = 0;

  // A project stopped by hand stays stopped across restarts of Anthill until
  // started by hand or deployed again.
  virtual Status SetHeld(std::string_view project, bool held) = 0;
  virtual Result<bool> IsHeld(std::string_view project) = 0;

  // The program a project runs that passed its health check (or was
  // started from a release that had): re-adopted at start-up.
  virtual Status PutProcess(const Process& p) = 0;  // insert or replace by project
  virtual Status DeleteProcess(std::string_view project) = 0;
  virtual Result<std::optional<Process>> GetProcess(std::string_view project) = 0;
  virtual Result<std::vector<Process>> ListProcesses() = 0;

  // The program a deployment started that has not passed its health check
  // yet. Found at start-up, it is not trusted: it is stopped, and the
  // recorded process (the version before) is kept or started again.
  virtual Status PutCandidate(const Process& p) = 0;  // insert or replace by project
  virtual Status DeleteCandidate(std::string_view project) = 0;
  virtual Result<std::optional<Process>> GetCandidate(std::string_view project) = 0;
  // In one transaction: the candidate becomes the recorded process.
  virtual Status PromoteCandidate(std::string_view project) = 0;
};

}  // namespace anthill::store
