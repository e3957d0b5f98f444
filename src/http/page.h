// Server-rendered HTML. Every value from the store is escaped: commit
// messages, branch and actor names come from repositories and pushers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"

namespace anthill::http {

std::string HtmlEscape(std::string_view s);
// `events`: the programs' recent exits and restarts, shown under the table.
std::string RenderDeploymentsPage(const std::vector<store::Deployment>& list,
                                  const store::DeploymentFilter& filter, const std::string& machine,
                                  const std::vector<store::ProgramEvent>& events = {});
std::string NotFoundPage(const std::string& path);

}  // namespace anthill::http
