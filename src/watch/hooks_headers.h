// Reading a webhook request's headers, as the HTTP layer hands them over
// (names lowercased; see Headers in hooks.h): shared by the signature checks
// and the parsing of deliveries.
// Thread: any (pure functions).
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "watch/hooks.h"

namespace anthill::watch {

// ASCII case-insensitive equality: forge names, algorithm labels, media types.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Header value (trimmed) or nullopt when absent; `name` lowercased.
std::optional<std::string> Header(const Headers& headers, const std::string& name);

// First header of `names` that is present and non-empty, else "".
std::string FirstHeader(const Headers& headers, std::initializer_list<const char*> names);

}  // namespace anthill::watch
