// The API's JSON shapes, in one place (ARCHITECTURE.md "A deployment in JSON").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "deploy/controller.h"
#include "store/agent_fleet.h"
#include "store/build_queue.h"
#include "store/records.h"

namespace anthill::http {

nlohmann::json ToJson(const store::Deployment& d);
nlohmann::json ToJson(const store::Step& s, const store::Deployment& d);
nlohmann::json ToJson(const deploy::ProjectState& p);
// {"project", "running": deployment + "phase" | null, "waiting": deployment + "reason" | null}
nlohmann::json ToJson(const deploy::QueueState& q);
nlohmann::json ToJson(const store::QueuedJobView& v);  // a fleet's open build job
nlohmann::json ToJson(const store::BuildJobRow& j);    // a build job and its artifact
nlohmann::json ToJson(const store::HookEvent& e);      // without the body
nlohmann::json ToJson(const store::ProgramEvent& e);
nlohmann::json ToJson(const store::DeploymentMachine& m);  // a machine's part in a rollout
// An agent and what it reported of, and was told for, each project (its
// rows of the desired state), as GET /api/v1/machines lists it.
nlohmann::json ToJson(const store::AgentRow& a, const std::vector<store::DesiredRow>& rows);

}  // namespace anthill::http
