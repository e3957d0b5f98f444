// Test helper: the forges' deliveries, checked in as
// src/watch/testdata/<forge>/<case>.http: the request's headers ("name:
// value", names lowercased as the HTTP layer hands them over), an empty line,
// then the body byte for byte, signed (GitLab: carrying the token) with
// kSecret. The hook fuzzers (fuzz/hook_fuzz.cc) take these files as seeds
// too, so a delivery added here is fuzzed. Loading them, signing them again
// and the edits the tests' tables make of them; defined in
// hooks_testdata_test.cc (a *_test.cc, so only the test binary has them).
// Thread: the test's.
#pragma once

#include <functional>
#include <string>

#include "watch/hooks.h"

namespace anthill::watch {

inline constexpr char kSecret[] = "It's a Secret to Everybody";
inline constexpr char kZeros[] = "0000000000000000000000000000000000000000";

// The delivery ids the checked-in deliveries carry.
inline constexpr char kGithubDelivery[] = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
inline constexpr char kGitlabDelivery[] = "13792a34-cac6-4fda-95a8-c58e00a3954e";
inline constexpr char kGiteaDelivery[] = "f6266f16-1bf3-46a5-9ea4-602e06ead473";

struct Delivery {
  Forge forge = Forge::kGeneric;
  Headers headers;
  std::string body;
};

using Edit = std::function<void(Delivery&)>;

// testdata/<name>.http, e.g. "github/push"; the folder names the forge.
// A missing or malformed file is a test failure.
Delivery Load(const std::string& name);

// Signs the body again under `secret` the way its forge does (GitLab sends
// the token itself), as a sender holding that secret would.
void Sign(Delivery& d, const std::string& secret);

// Changes one byte in the middle of the body (a digit of a commit id),
// keeping it valid JSON so only the signature can catch it.
std::string Tamper(std::string body);

// Edits of a checked-in delivery, for the cases the forges' payloads vary in.
Edit Without(std::string header);
Edit WithHeader(std::string header, std::string value);
Edit SignedWith(std::string secret);
// Another body, signed with kSecret: a well-signed delivery that says this.
Edit Body(std::string body);
// The first `bytes` of the body (negative: all but the last -bytes), signed.
Edit Cut(long bytes);
Edit Both(Edit a, Edit b);

}  // namespace anthill::watch
