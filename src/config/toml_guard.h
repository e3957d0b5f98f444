// A scan of anthill.toml's text before toml++ sees it, for the inputs that
// make Debian's toml++ 3.3.0 reach undefined behaviour instead of an error
// (all found by fuzzing, fuzz/corpus/config/):
//
//  - A table header with no key: '[' or '[[' followed (after spaces and tabs)
//    by anything but a bare-key character or a quote, "[\n" for one. The
//    parser's parse_key() asserts it starts on a key, which aborts a debug
//    build and is an unchecked assumption in a release one.
//  - Non-ASCII code points where toml++ asks "is this whitespace?":
//    outside strings and comments ("\xcb\x8b", U+02CB, hits a
//    TOML_UNREACHABLE in is_non_ascii_horizontal_whitespace()), and inside a
//    multi-line basic string right after a backslash or a line-ending
//    backslash's whitespace. A quote inside a bare value ("1.0\"é\"") does
//    not start a string for toml++, so it does not here either.
//  - An array element that starts with ',' or '}' ("[,]", "[}"): toml++'s
//    parse_value() asserts a value starts there.
//  - A value shaped like a date ("1979-05-27", or any ten characters with
//    '-' 5th and 8th) followed by a space and a digit: toml++ reads on as a
//    date-time, takes the next character unasked ('#', a line break) and asks
//    of each one after it whether it ends the value, so a non-ASCII code point
//    there is refused as in any bare value.
//
// TOML itself allows non-ASCII only in strings and comments, so only the last
// case refuses valid TOML ("\"\"\"\\\n  été\"\"\""), and its message says so.
// The text must also be valid UTF-8 (a leading byte-order mark is allowed).
//
// Thread: any (a pure function).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace anthill::config {

// Ok, or an error "<file>:<line>: <what>", e.g.
// "anthill.toml:3: a table header needs a name after '[' (saw a line break)".
Status GuardToml(std::string_view text, const std::string& file);

}  // namespace anthill::config
