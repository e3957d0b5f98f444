// The shared record: deployments and their steps, webhook deliveries, pins.
// It is what every machine of a fleet shares (PostgreSQL there); in the
// single-machine shape it is the SQLite file. Rows name their machine
// (Deployment::machine); reads return every machine's rows unless filtered.
//
// This synchronous whole (the writes of record_writer.h, and the reads) is
// what a record on local disk offers (SQLite); a record across a network
// offers its reads only awaited (AsyncRecordStore), and Store asks for the
// writes alone.
//
// Thread: the io_context thread. A write is durable when it returns, or
// kept in memory in order when the database cannot take it now
// (store/write_behind.h); reads show kept writes. Ids of deployments and
// steps are given at once either way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "store/record_writer.h"
#include "store/records.h"

namespace anthill::store {

class RecordStore : public virtual RecordWriter {
 public:
  ~RecordStore() override = default;

  // One deployment with its steps; nullopt when there is no such id.
  virtual Result<std::optional<Deployment>> GetDeployment(int64_t id) = 0;
  // Newest first (by id), with steps, filtered; see DeploymentFilter.
  virtual Result<std::vector<Deployment>> ListDeployments(const DeploymentFilter& f) = 0;
  // The ids of the same project's deployments just before and after `id`
  // (0 when there is none), for the detail page's previous/next links.
  struct Neighbours {
    int64_t previous = 0;
    int64_t next = 0;
  };
  virtual Result<Neighbours> DeploymentNeighbours(int64_t id, std::string_view project) = 0;
  // The newest deployment of a project, or of a project with a given status.
  virtual Result<std::optional<Deployment>> LatestDeployment(
      std::string_view project, std::optional<DeploymentStatus> status = std::nullopt) = 0;

  // How many deployments each (project, status) has, for /metrics.
  struct StatusCount {
    std::string project;
    DeploymentStatus status;
    int64_t count = 0;
  };
  virtual Result<std::vector<StatusCount>> CountDeployments() = 0;

  // Marks every deployment of this store's machine (the one it was opened
  // for) still queued or running, and each of their running steps, as
  // interrupted at `now` with error `why`; returns how many deployments it
  // touched. Called at start-up: those rows belong to a previous life of
  // this machine's Anthill. Another machine's rows are its own business:
  // they are running there, and only that machine can say they are not.
  virtual Result<int> InterruptUnfinished(TimePoint now, std::string_view why) = 0;
  // The same for every deployment of `project` still queued or running, and
  // each running step of the project's deployments, whichever machine
  // recorded them (this one's too); other projects' rows are not touched.
  // Returns how many deployments it touched; each deployment touched is
  // announced on the change feed. Used when an orchestrator takes a project
  // over from another that stopped answering: every unfinished row of the
  // project is the previous holder's, which is gone. So call it before this
  // machine starts work of its own on the project.
  virtual Result<int> InterruptUnfinishedOfProject(TimePoint now, std::string_view project,
                                                   std::string_view why) = 0;

  // Stores a hook delivery and returns its id, or nullopt when the same
  // (source, delivery_id) was stored before (a replay: nothing is written).
  virtual Result<std::optional<int64_t>> RecordHookEvent(const HookEvent& e) = 0;
  // Newest first, without bodies; before_id > 0 pages like deployments.
  virtual Result<std::vector<HookEvent>> ListHookEvents(int limit, int64_t before_id = 0) = 0;

  // Commits pinned out of automatic deploys (see Pin; written through
  // RecordWriter). Pins are per project, shared by every machine: a commit
  // that failed is not tried again anywhere. Newest first.
  virtual Result<std::vector<Pin>> ListPins(std::string_view project) = 0;
};

}  // namespace anthill::store
