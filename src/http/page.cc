#include "http/page.h"

namespace anthill::http {

namespace {

const char* kStyle = R"css(
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:1rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .8rem}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e5e5e5;vertical-align:top}
th{font-weight:600;background:#f0f0f0}
.st{font-weight:600;white-space:nowrap}
.st::before{content:"";display:inline-block;width:.7em;height:.7em;border-radius:50%;margin-right:.35em;background:#999}
.succeeded::before{background:#1a7f37}.failed::before,.rolled_back::before{background:#cf222e}
.running::before,.queued::before{background:#bf8700}.interrupted::before,.cancelled::before{background:#6e7781}
.steps{margin:0;padding:0;list-style:none;font-size:.85rem}
.steps li{display:inline-block;margin-right:.6rem}
.err{color:#cf222e;font-size:.85rem}
code{font-size:.85rem}
nav{margin:.8rem 0}
@media (max-width:700px){thead{display:none}td{display:block;border:0;padding:.15rem .5rem}tr{display:block;border-bottom:1px solid #ddd;padding:.4rem 0}}
)css";

std::string DurationText(const store::Deployment& d) {
  if (!d.finished_at) return "running";
  return FormatDuration(*d.finished_at - d.started_at);
}

}  // namespace

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderDeploymentsPage(const std::vector<store::Deployment>& list,
                                  const store::DeploymentFilter& filter,
                                  const std::string& machine,
                                  const std::vector<store::ProgramEvent>& events) {
  std::string h;
  h += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
       "<meta http-equiv=\"refresh\" content=\"5\">"
       "<title>Deployments · Anthill</title><style>";
  h += kStyle;
  h += "</style></head><body><h1>Deployments on " + HtmlEscape(machine) + "</h1>";
  if (!filter.project.empty()) h += "<p>Project: <b>" + HtmlEscape(filter.project) + "</b> · <a href=\"/deployments\">all</a></p>";
  h += "<table><thead><tr><th>#</th><th>Status</th><th>Project</th><th>Machine</th>"
       "<th>Version</th><th>Trigger</th><th>Started (UTC)</th><th>Duration</th><th>Steps</th>"
       "</tr></thead><tbody>";
  for (const auto& d : list) {
    std::string status(store::ToString(d.status));
    h += "<tr><td><a href=\"/api/v1/deployments/" + std::to_string(d.id) + "\">" +
         std::to_string(d.id) + "</a></td>";
    h += "<td class=\"st " + status + "\">" + status + "</td>";
    h += "<td><a href=\"/deployments?project=" + HtmlEscape(d.project) + "\">" +
         HtmlEscape(d.project) + "</a></td>";
    h += "<td>" + HtmlEscape(d.machine) + "</td>";
    h += "<td><code title=\"" + HtmlEscape(d.from_commit) + "\">" +
         (d.from_version.empty() ? "—" : HtmlEscape(d.from_version)) + "</code> → <code title=\"" +
         HtmlEscape(d.to_commit) + "\">" + HtmlEscape(d.to_version) + "</code></td>";
    h += "<td>" + std::string(store::ToString(d.trigger)) + " · " + HtmlEscape(d.actor) + "</td>";
    h += "<td><time datetime=\"" + FormatRfc3339(d.started_at) + "\">" +
         FormatRfc3339(d.started_at).substr(0, 19).replace(10, 1, " ") + "</time></td>";
    h += "<td>" + DurationText(d) + "</td><td><ul class=\"steps\">";
    for (const auto& s : d.steps) {
      std::string st(store::ToString(s.status));
      std::string dur = s.finished_at ? FormatDuration(*s.finished_at - s.started_at) : "…";
      h += "<li class=\"st " + st + "\" title=\"" + st + "\">" + HtmlEscape(s.name) + " <small>" +
           (st == "succeeded" ? "" : st + " ") + dur + "</small></li>";
    }
    h += "</ul>";
    if (!d.error.empty()) h += "<div class=\"err\">" + HtmlEscape(d.error) + "</div>";
    h += " <a href=\"/api/v1/deployments/" + std::to_string(d.id) + "/log\">log</a></td></tr>";
  }
  if (list.empty()) h += "<tr><td colspan=\"9\">No deployments yet.</td></tr>";
  h += "</tbody></table>";
  if (static_cast<int>(list.size()) == filter.limit && !list.empty()) {
    std::string link = "/deployments?before=" + std::to_string(list.back().id);
    if (!filter.project.empty()) link += "&amp;project=" + HtmlEscape(filter.project);
    h += "<nav><a href=\"" + link + "\">Older deployments →</a></nav>";
  }
  if (!events.empty()) {
    h += "<h2>Program events</h2><table><thead><tr><th>Time (UTC)</th><th>Project</th>"
         "<th>Event</th><th>Version</th><th>PID</th><th>Detail</th></tr></thead><tbody>";
    for (const auto& e : events) {
      h += "<tr><td><time datetime=\"" + FormatRfc3339(e.at) + "\">" +
           FormatRfc3339(e.at).substr(0, 19).replace(10, 1, " ") + "</time></td><td>" +
           HtmlEscape(e.project) + "</td><td>" + HtmlEscape(e.kind) + "</td><td><code>" +
           HtmlEscape(e.version) + "</code></td><td>" +
           (e.pid ? std::to_string(e.pid) : std::string("—")) + "</td><td>" +
           HtmlEscape(e.detail) + "</td></tr>";
    }
    h += "</tbody></table>";
  }
  h += "</body></html>\n";
  return h;
}

std::string NotFoundPage(const std::string& path) {
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found · "
         "Anthill</title></head><body><h1>Nothing at " +
         HtmlEscape(path) +
         "</h1><p>Try <a href=\"/deployments\">the deployments</a> or the API at "
         "<code>/api/v1/projects</code>.</p></body></html>\n";
}

}  // namespace anthill::http
