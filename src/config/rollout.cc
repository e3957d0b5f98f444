// A project's agents and how a release reaches them: `machines`, `labels`
// and `rollout = { batch = "25%", ... }` (inline or [project.rollout]).
#include <regex>

#include "config/sections.h"
#include "config/validate.h"

namespace anthill::config {

namespace {

// `batch`: a count of machines (2 or "2") or a percentage of the targets
// ("25%").
void ReadBatch(TableReader& r, Rollout& out) {
  const toml::node* n = r.Get("batch");
  if (n == nullptr) return;
  const std::string wrong =
      "must be a count of machines (2 or \"2\") or a percentage from 1% to 100% (\"25%\")";
  if (n->is_integer()) {
    const int64_t count = n->as_integer()->get();
    if (count < 1 || count > 1000000) {
      r.Fail(TableReader::Line(*n), "batch", std::to_string(count) + " " + wrong);
      return;
    }
    out.batch_count = static_cast<int>(count);
    return;
  }
  if (!n->is_string()) {
    r.Fail(TableReader::Line(*n), "batch", wrong + ", not " + TableReader::TypeName(*n));
    return;
  }
  const std::string text = n->as_string()->get();
  static const std::regex kBatch("([0-9]{1,7})(%?)");
  std::smatch m;
  const int value = std::regex_match(text, m, kBatch) ? std::stoi(m[1].str()) : 0;
  const bool percent = m.size() > 2 && m[2].length() == 1;
  if (value < 1 || (percent && value > 100)) {
    r.Fail(TableReader::Line(*n), "batch", "'" + text + "' " + wrong);
    return;
  }
  out.batch_count = percent ? 0 : value;
  out.batch_percent = percent ? value : out.batch_percent;
}

}  // namespace

Status ReadRollout(TableReader& project, const toml::node& node, const std::string& file,
                   const std::string& where, Rollout& out) {
  if (!node.is_table()) {
    project.Fail(TableReader::Line(node), "rollout",
                 std::string("must be a table like { batch = \"25%\" }, not ") +
                     TableReader::TypeName(node));
    return Status::Ok();  // the project's reader reports it
  }
  TableReader r(*node.as_table(), file, where);
  ReadBatch(r, out);
  r.DurationKey("min_healthy", out.min_healthy);
  r.DurationKey("pause", out.pause);
  std::string on_failure;
  r.String("on_failure", on_failure);
  r.DurationKey("agent_timeout", out.agent_timeout);
  r.RejectUnknown();
  if (!r.ok()) return r.status();
  if (on_failure == "halt") {
    out.on_failure = Rollout::OnFailure::kHalt;
  } else if (!on_failure.empty() && on_failure != "rollback") {
    return r.Refuse("on_failure", "'" + on_failure + "' is not one of rollback, halt");
  }
  if (out.agent_timeout.count() <= 0) return r.Refuse("agent_timeout", "must be above 0");
  return Status::Ok();
}

}  // namespace anthill::config
