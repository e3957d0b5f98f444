#include "artifact/artifact_store.h"

namespace anthill::artifact {

namespace {

// A byte a key's parts may hold: [A-Za-z0-9._-].
bool KeyByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// KeyBytes only, at most 255 bytes (a file name's limit), not "." or "..".
bool ValidPart(std::string_view part) {
  if (part.empty() || part.size() > 255 || part == "." || part == "..") return false;
  for (char c : part) {
    if (!KeyByte(c)) return false;
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

std::string KeyFor(std::string_view project, std::string_view version) {
  std::string file(version.empty() ? "unnamed" : version);
  for (char& c : file) {
    if (!KeyByte(c)) c = '_';
  }
  if (file == "." || file == "..") file = "_";
  return std::string(project) + "/" + file + ".tar.zst";
}

}  // namespace anthill::artifact
