// Parameters and cells of PostgreSQL's text protocol as the PostgreSQL
// stores (record, build queue, project ownership) write and read them:
// one copy of the conversions, so the three agree on NULLs, arrays and
// times.
//
// Thread: plain functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/time.h"

namespace anthill::store {

using PgCell = std::optional<std::string>;

// The server's clock in unix milliseconds, as SQL: every lease and every
// time a store judges is written and compared by it. now() is the start of
// the statement's transaction, so one statement sees one instant.
inline const std::string kPgNowMillis = "(extract(epoch FROM now()) * 1000)::bigint";

// Every text from outside goes through PgText: bytes that are not UTF-8
// become U+FFFD (PgValidText), never an error.
PgCell PgText(std::string_view s);
PgCell PgInt(int64_t v);
// A text[] parameter in PostgreSQL's array literal form, every element
// quoted so that none reads as NULL and commas, braces and spaces are
// data: {"a","b \"c\""}.
PgCell PgTextArray(const std::vector<std::string>& items);
// A bigint[] parameter: {1,2,3}; NULL for none: {1,NULL,3}.
PgCell PgIntArray(const std::vector<int64_t>& items);
PgCell PgMaybeIntArray(const std::vector<std::optional<int64_t>>& items);

// A text[] cell back: {a,"b c",NULL}. The server quotes an element that
// holds anything special (and "" and the word NULL); an unquoted NULL is a
// NULL element, which the stores never write, and is left out.
std::vector<std::string> PgParseTextArray(const PgCell& cell);
// NULL reads as 0 or "".
int64_t PgToInt(const PgCell& cell);
std::string PgStr(const PgCell& cell);
// Unix milliseconds back to a time; NULL is none.
std::optional<TimePoint> PgMaybeTime(const PgCell& cell);

// The SQL call that sends "<prefix>:<value>" on `channel`, in the same
// statement (and so the same transaction) as a write: `column` is SQL, a
// column of the statement's rows, never text from outside.
std::string PgNotifySql(std::string_view channel, std::string_view prefix, std::string_view column);

}  // namespace anthill::store
