#include "http/page.h"

namespace anthill::http {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string NotFoundPage(const std::string& path) {
  std::string hint;
  if (path.rfind("/deployment/", 0) == 0 || path.rfind("/deployments/", 0) == 0) {
    hint =
        "<p>A deployment's page is <code>/deployments/&lt;number&gt;</code>, for example "
        "<a href=\"/deployments/1\">/deployments/1</a>.</p>";
  } else if (path.rfind("/project", 0) == 0) {
    hint = "<p>The projects are all on one page: <a href=\"/projects\">/projects</a>.</p>";
  }
  return "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
         "<title>Not found · Anthill</title><link rel=\"stylesheet\" href=\"/ui/app.css\"></head>"
         "<body><header><nav><a href=\"/deployments\">Deployments</a> "
         "<a href=\"/projects\">Projects</a> <a href=\"/machines\">Machines</a></nav></header>"
         "<main><h1>Nothing at <code>" +
         HtmlEscape(path) + "</code></h1>" + hint +
         "<p>The pages are <a href=\"/deployments\">Deployments</a> (filter with "
         "<code>?project=</code>, <code>?status=</code>, <code>?machine=</code>) and "
         "<a href=\"/projects\">Projects</a>, and a fleet's <a href=\"/machines\">Machines</a>. "
         "The API is under <code>/api/v1/</code>: <code>projects</code>, <code>deployments</code>, "
         "<code>deployments/&lt;id&gt;</code>, <code>queue</code>, <code>events</code>, "
         "<code>machines</code>.</p></main></body></html>\n";
}

}  // namespace anthill::http
