#include "ui/assets.h"

#include <gtest/gtest.h>

#include <set>

namespace anthill::ui {
namespace {

TEST(Assets, ThePagesAndTheirModulesAreEmbedded) {
  for (const char* name :
       {"deployments.html", "deployment.html", "projects.html", "app.css", "common.js",
        "deployments.js", "deployment.js", "projects.js", "machines.html", "machines.js"}) {
    const Asset* a = FindAsset(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_FALSE(a->body.empty()) << name;
    EXPECT_EQ(a->etag.front(), '"') << name;
  }
  EXPECT_EQ(FindAsset("deployments.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(FindAsset("projects.html")->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(FindAsset("nope.js"), nullptr);
  EXPECT_EQ(FindAsset("assets.cc"), nullptr);  // sources are not served
}

TEST(Assets, EtagsDifferWhenContentDiffers) {
  std::set<std::string_view> etags;
  for (const auto& a : Assets()) etags.insert(a.etag);
  EXPECT_EQ(etags.size(), Assets().size());
}

}  // namespace
}  // namespace anthill::ui
