// NormalizeRepoUrl and RepoMatches (hooks.h): the forms one repository goes
// by, reduced so that a delivery's URLs can be matched to projects' repos.
#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "watch/hooks.h"

namespace anthill::watch {
namespace {

// Splits "host[:port]" (after user info is gone) and drops a numeric port.
// Returns the host and, through `path_from_colon`, a non-numeric remainder
// after ':' that some people write as "ssh://host:org/repo".
std::string StripPort(std::string_view authority, std::string* path_from_colon) {
  size_t search_from = 0;
  if (StartsWith(authority, "[")) {  // IPv6 literal: the port follows ']'
    size_t close = authority.find(']');
    if (close != std::string_view::npos) search_from = close;
  }
  size_t colon = authority.find(':', search_from);
  if (colon == std::string_view::npos) return std::string(authority);
  std::string_view after = authority.substr(colon + 1);
  bool numeric = std::all_of(after.begin(), after.end(),
                             [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (!numeric) *path_from_colon = std::string(after);
  return std::string(authority.substr(0, colon));
}

// Collapses repeated slashes, then drops trailing slashes and one ".git".
std::string TidyPath(std::string s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  auto drop_slashes = [&out] {
    while (out.size() > 1 && out.back() == '/') out.pop_back();
  };
  drop_slashes();
  if (out.size() > 4 && out.ends_with(".git")) out.resize(out.size() - 4);
  drop_slashes();
  return out;
}

}  // namespace

std::string NormalizeRepoUrl(std::string_view url) {
  std::string s = AsciiLower(Trim(url));
  if (s.empty()) return s;

  size_t scheme_end = s.find("://");
  if (scheme_end != std::string::npos) {
    std::string scheme = s.substr(0, scheme_end);
    std::string rest = s.substr(scheme_end + 3);
    rest = rest.substr(0, rest.find_first_of("?#"));
    if (scheme == "file") {
      // file:///srv/x has an empty host; file://localhost/srv/x names one.
      size_t slash = rest.find('/');
      return TidyPath(slash == std::string::npos ? "/" : rest.substr(slash));
    }
    size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "" : rest.substr(slash);
    size_t at = authority.rfind('@');
    if (at != std::string::npos) authority = authority.substr(at + 1);
    std::string colon_path;
    std::string host = StripPort(authority, &colon_path);
    if (!colon_path.empty()) path = "/" + colon_path + path;
    return TidyPath(host + path);
  }

  // Local paths stay paths.
  if (s[0] == '/' || s[0] == '.' || s[0] == '~') return TidyPath(s);

  // scp-like "user@host:path": a ':' before any '/'.
  size_t colon = s.find(':');
  size_t slash = s.find('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon < slash)) {
    std::string host = s.substr(0, colon);
    size_t at = host.rfind('@');
    if (at != std::string::npos) host = host.substr(at + 1);
    return TidyPath(host + "/" + s.substr(colon + 1));
  }
  // "host/path" or "user@host/path" without a scheme.
  size_t at = s.find('@');
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) s = s.substr(at + 1);
  return TidyPath(s);
}

bool RepoMatches(const std::vector<std::string>& urls, std::string_view project_repo) {
  std::string want = NormalizeRepoUrl(project_repo);
  if (want.empty()) return false;
  for (const auto& u : urls) {
    if (u.empty()) continue;
    if (NormalizeRepoUrl(u) == want) return true;
  }
  return false;
}

}  // namespace anthill::watch
