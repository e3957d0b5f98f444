#include "base/host_port.h"

#include <gtest/gtest.h>

namespace anthill {
namespace {

TEST(SplitHostPort, EveryFormAnthillReads) {
  const struct {
    const char* text;
    const char* host;
    const char* port;
    bool has_port;
  } cases[] = {
      {"127.0.0.1:7070", "127.0.0.1", "7070", true},
      {"localhost:0", "localhost", "0", true},
      {"[::1]:80", "::1", "80", true},
      {"[::]:8080", "::", "8080", true},
      {"[::1]", "::1", "", false},  // a Host header without a port
      {"deploy.example.com", "deploy.example.com", "", false},
      {"example.com:", "example.com", "", true},
      {":8080", "", "8080", true},    // every address, for a listening socket
      {"::1:80", "::1", "80", true},  // unbracketed: the last ':' separates
      {"a:b:80", "a:b", "80", true},
      {"host:name", "host", "name", true},  // a port is checked by its caller
      {"", "", "", false},
  };
  for (const auto& c : cases) {
    auto hp = SplitHostPort(c.text);
    ASSERT_TRUE(hp.ok()) << c.text << ": " << hp.error();
    EXPECT_EQ(hp->host, c.host) << c.text;
    EXPECT_EQ(hp->port, c.port) << c.text;
    EXPECT_EQ(hp->has_port, c.has_port) << c.text;
  }
}

TEST(SplitHostPort, RefusesWhatCannotBeSplit) {
  for (const char* text : {"[::1", "[::1]80", "[::1]x:80", "["}) {
    auto hp = SplitHostPort(text);
    ASSERT_FALSE(hp.ok()) << text;
    EXPECT_EQ(hp.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(hp.error(), "'" + std::string(text) + "' is not host:port");
  }
}

TEST(ParsePort, DecimalOneTo65535) {
  EXPECT_EQ(ParsePort("80"), 80);
  EXPECT_EQ(ParsePort("1"), 1);
  EXPECT_EQ(ParsePort("65535"), 65535);
  EXPECT_EQ(ParsePort("08080"), 8080);
  for (const char* bad : {"", "0", "65536", "99999", "123456", "-1", "+80", "8o", " 80", "http"}) {
    EXPECT_EQ(ParsePort(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace anthill
