// Server-rendered HTML: only the 404 page now (the pages of the web UI are
// files in src/ui/ that render the API's JSON in the browser). Every value
// that came from a request or a repository is escaped.
#pragma once

#include <string>
#include <string_view>

namespace anthill::http {

std::string HtmlEscape(std::string_view s);
// A 404 that helps: what was asked for, and where the pages and the API are.
std::string NotFoundPage(const std::string& path);

}  // namespace anthill::http
