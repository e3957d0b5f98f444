// Small string helpers shared by every module.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace anthill {

std::vector<std::string> SplitLines(std::string_view text);
std::string_view Trim(std::string_view s);
// A-Z to a-z, every other byte as it is (header names, URL schemes, hex).
std::string AsciiLower(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
// Last `max_bytes` of text, starting at a line boundary when one is near.
std::string Tail(std::string_view text, size_t max_bytes);
// "a, b, c"; past most + 1 names, the first `most` and "and N more" (a log
// line or an error about 10,000 machines names a few).
std::string JoinNames(const std::vector<std::string>& names, size_t most);
// Decodes %XX escapes, and '+' as a space when plus_is_space (query strings,
// form bodies). A '%' not followed by two hex digits is kept as it is and,
// when `malformed` is given, sets *malformed.
std::string PercentDecode(std::string_view s, bool plus_is_space, bool* malformed = nullptr);
// True when s is 40 lowercase hex digits.
bool IsFullSha(std::string_view s);

}  // namespace anthill
