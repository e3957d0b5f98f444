#include "artifact/artifact_store.h"

namespace anthill::artifact {

namespace {

// [A-Za-z0-9._-]+, at most 255 bytes (a file name's limit), not "." or "..".
bool ValidPart(std::string_view part) {
  if (part.empty() || part.size() > 255 || part == "." || part == "..") return false;
  for (char c : part) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool ValidKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return false;
  std::string_view project = key.substr(0, slash);
  std::string_view file = key.substr(slash + 1);
  // ValidPart refuses a second '/' in file.
  return ValidPart(project) && ValidPart(file) &&
         (EndsWith(file, ".tar.zst") || EndsWith(file, ".tar.gz"));
}

}  // namespace anthill::artifact
