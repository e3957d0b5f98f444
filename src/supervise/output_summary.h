// What a failed start says about itself: a one-line summary of the output a
// program wrote before it died, for the deployment's error.
// Thread: any; a pure function.
#pragma once

#include <string>
#include <string_view>

namespace anthill::supervise {

// The last three non-empty lines of `output`, joined by " / ", preceded by
// the first earlier line that names an error ("Error: boom ... at f (x.js:1)
// / ...") since a stack trace ends in frames and the reason is on top. At
// most about 600 bytes; empty when there is no output.
std::string SummarizeOutput(std::string_view output);

}  // namespace anthill::supervise
