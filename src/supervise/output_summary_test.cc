#include "supervise/output_summary.h"

#include <gtest/gtest.h>

namespace anthill::supervise {
namespace {

TEST(SummarizeOutput, TheLastLinesAndTheErrorAboveAStackTrace) {
  struct Case {
    const char* output;
    const char* summary;
  } cases[] = {
      {"", ""},
      {"\n  \n", ""},
      {"cannot listen on 127.0.0.1:8080: Address already in use\n",
       "cannot listen on 127.0.0.1:8080: Address already in use"},
      {"starting\n/srv/app/index.js:2\nthrow new Error('boom at start')\n^\n\nError: boom at "
       "start\n"
       "    at Object.<anonymous> (/srv/app/index.js:2:7)\n    at Module._compile (node:internal)\n"
       "    at node:internal/main/run_main_module:28:49\n\nNode.js v20.20.2\n",
       "throw new Error('boom at start') ... at Module._compile (node:internal) / at "
       "node:internal/main/run_main_module:28:49 / Node.js v20.20.2"},
      {"one\ntwo\nthree\nfour\n", "two / three / four"},
  };
  for (const auto& c : cases) EXPECT_EQ(SummarizeOutput(c.output), c.summary) << c.output;
  EXPECT_LE(SummarizeOutput(std::string(5000, 'x')).size(), 605u);
}

}  // namespace
}  // namespace anthill::supervise
