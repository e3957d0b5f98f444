#include "http/json.h"

#include "deploy/agent_protocol.h"

namespace anthill::http {

using nlohmann::json;

namespace {

json Time(const std::optional<TimePoint>& t) { return t ? json(FormatRfc3339(*t)) : json(nullptr); }

json PinnedOutJson(const std::map<std::string, std::string>& pins) {
  json out = json::array();
  for (const auto& [commit, reason] : pins) out.push_back({{"commit", commit}, {"reason", reason}});
  return out;
}

json DurationMs(TimePoint start, const std::optional<TimePoint>& end) {
  if (!end) return nullptr;
  return (*end - start).count();
}

}  // namespace

json ToJson(const store::Step& s, const store::Deployment& d) {
  return json{{"id", s.id},
              {"name", store::ToString(s.name)},
              {"status", store::ToString(s.status)},
              {"started_at", FormatRfc3339(s.started_at)},
              {"finished_at", Time(s.finished_at)},
              {"duration_ms", DurationMs(s.started_at, s.finished_at)},
              {"error", s.error},
              {"from_version", d.from_version},
              {"to_version", d.to_version},
              {"machine", s.machine.empty() ? d.machine : s.machine},
              {"project", d.project}};
}

json ToJson(const store::DeploymentMachine& m) {
  return json{{"machine", m.machine},
              {"batch", m.batch},
              {"status", store::ToString(m.status)},
              {"from_version", m.from_version},
              {"to_version", m.to_version},
              {"from_release", m.from_release},
              {"to_release", m.to_release},
              {"started_at", Time(m.started_at)},
              {"finished_at", Time(m.finished_at)},
              {"error", m.error}};
}

json ToJson(const store::Deployment& d) {
  json steps = json::array();
  for (const auto& s : d.steps) steps.push_back(ToJson(s, d));
  return json{{"id", d.id},
              {"project", d.project},
              {"machine", d.machine},
              {"from_version", d.from_version},
              {"to_version", d.to_version},
              {"from_commit", d.from_commit},
              {"to_commit", d.to_commit},
              {"ref", d.ref},
              {"trigger", store::ToString(d.trigger)},
              {"actor", d.actor},
              {"status", store::ToString(d.status)},
              {"started_at", FormatRfc3339(d.started_at)},
              {"finished_at", Time(d.finished_at)},
              {"duration_ms", DurationMs(d.started_at, d.finished_at)},
              {"error", d.error},
              {"release", d.release},
              {"steps", steps}};
}

json ToJson(const store::AgentRow& a, const std::vector<store::DesiredRow>& rows) {
  json projects = json::array();
  for (const store::DesiredRow& row : rows) {
    json p{{"project", row.project}, {"reported_at", Time(row.reported_at)}};
    if (!row.reported.empty()) {
      if (auto r = deploy::ParseProjectReport(row.reported); r.ok()) {
        p["release"] = r->running_release;
        p["version"] = r->running_version;
        p["commit"] = r->running_commit;
        p["pid"] = r->pid;
        p["health"] = r->health;
        p["since"] = Time(r->since);
        p["last_run"] = {{"deployment", r->run_deployment_id},
                         {"release", r->run_release},
                         {"status", r->run_status},
                         {"error", r->run_error}};
      }
    }
    if (!row.desired.empty()) {
      if (auto d = deploy::ParseDesiredProject(row.desired); d.ok() && d->run) {
        p["desired_version"] = d->run->version;
        p["desired_release"] = d->run->release;
      }
    }
    projects.push_back(std::move(p));
  }
  return json{{"name", a.name},
              {"labels", a.labels},
              {"created_at", FormatRfc3339(a.created_at)},
              {"revoked_at", Time(a.revoked_at)},
              {"last_seen_at", Time(a.last_seen_at)},
              {"generation", a.generation},
              {"projects", projects}};
}

json ToJson(const deploy::ProjectState& p) {
  json uptime = nullptr;
  if (p.started_at) uptime = (Now() - *p.started_at).count() / 1000;
  return json{{"name", p.name},
              {"repo", p.repo},
              {"branch", p.branch},
              {"tags", p.tags},
              {"state", store::ToString(p.state)},
              {"health", store::ToString(p.health)},
              {"version", p.version},
              {"commit", p.commit},
              {"release", p.release},
              {"pid", p.pid},
              {"started_at", Time(p.started_at)},
              {"uptime_seconds", uptime},
              {"last_deployment_id", p.last_deployment_id},
              {"last_deployment_status",
               p.last_deployment_status ? store::ToString(*p.last_deployment_status) : ""},
              {"last_error", p.last_error},
              {"pinned_out_commit", p.pinned_out_commit},
              {"pinned_out", PinnedOutJson(p.pinned_out)},
              {"restarts", p.restarts},
              {"last_exit", p.last_exit},
              {"held", p.held},
              {"orchestrator", p.orchestrator}};
}

json ToJson(const deploy::QueueState& q) {
  json running = nullptr, waiting = nullptr;
  if (q.running) {
    running = ToJson(*q.running);
    running["phase"] = q.running_phase;
  }
  if (q.waiting) {
    waiting = ToJson(*q.waiting);
    waiting["reason"] = q.waiting_reason;
  }
  return json{{"project", q.project}, {"running", running}, {"waiting", waiting}};
}

json ToJson(const store::QueuedJobView& v) {
  const store::BuildJobRow& j = v.job;
  return json{{"id", j.id},
              {"deployment_id", j.spec.deployment_id},
              {"project", j.spec.project},
              {"version", j.spec.version},
              {"commit", j.spec.commit},
              {"labels", j.spec.labels},
              {"status", store::ToString(j.status)},
              {"attempt", j.attempt},
              {"builder", j.builder},
              {"queued_at", FormatRfc3339(j.queued_at)},
              {"started_at", Time(j.started_at)},
              {"lease_until", Time(j.lease_until)},
              {"waiting_for", v.waiting_for},
              {"error", j.error}};
}

json ToJson(const store::BuildJobRow& j) {
  json artifact = nullptr;
  if (!j.artifact_key.empty()) {
    artifact = {{"key", j.artifact_key}, {"sha256", j.artifact_sha256}, {"size", j.artifact_size}};
  }
  return json{{"job", j.id},
              {"status", store::ToString(j.status)},
              {"attempt", j.attempt},
              {"builder", j.builder},
              {"queued_at", FormatRfc3339(j.queued_at)},
              {"started_at", Time(j.started_at)},
              {"finished_at", Time(j.finished_at)},
              {"error", j.error},
              {"release", j.release},
              {"artifact", artifact}};
}

json ToJson(const store::ProgramEvent& e) {
  return json{{"id", e.id},
              {"project", e.project},
              {"at", FormatRfc3339(e.at)},
              {"kind", store::ToString(e.kind)},
              {"version", e.version},
              {"pid", e.pid},
              {"detail", e.detail}};
}

json ToJson(const store::HookEvent& e) {
  return json{{"id", e.id},         {"received_at", FormatRfc3339(e.received_at)},
              {"source", e.source}, {"delivery_id", e.delivery_id},
              {"event", e.event},   {"repository", e.repository},
              {"ref", e.ref},       {"commit", e.commit},
              {"pusher", e.pusher}, {"verdict", e.verdict}};
}

}  // namespace anthill::http
