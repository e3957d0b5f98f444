#include "cli/table.h"

#include <gtest/gtest.h>

#include <sstream>

namespace anthill::cli {
namespace {

// A tag named with a byte that is not UTF-8 comes back from the API as
// U+FFFD; the columns after it must still line up.
TEST(Table, ColumnsLineUpInCharactersNotBytes) {
  Table t({"PROJECT", "VERSION", "PID"});
  t.Add({"py", "v9\xEF\xBF\xBD", "15821"});
  t.Add({"hello", "main-9000492c", "15449"});
  t.AddNote("error: the last deployment failed");
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(),
            "PROJECT  VERSION        PID\n"
            "py       v9\xEF\xBF\xBD            15821\n"
            "hello    main-9000492c  15449\n"
            "    error: the last deployment failed\n");
}

}  // namespace
}  // namespace anthill::cli
