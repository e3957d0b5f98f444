// The config parser (config::Parse): the guard in config/toml_guard.cc, then
// toml++ (compiled here header-only and instrumented, its assertions as in
// Debian's build: fuzz/toml_asserts_as_shipped.h), then
// Anthill's own validation. Any text in, a Config or an error out: an error
// must name the file like every config error ("anthill.toml:<line>: ...").
// Corpus: fuzz/corpus/config/ (the README's config, the examples, and the
// inputs that once reached undefined behaviour in toml++).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/config.h"
#include "config/toml_guard.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto guard = anthill::config::GuardToml(text, "anthill.toml");
  auto cfg = anthill::config::Parse(text, "anthill.toml");
  if (!guard.ok()) {
    // The guard's answer is Parse's answer.
    if (cfg.ok() || cfg.error() != guard.message()) __builtin_trap();
  }
  if (!cfg.ok() && cfg.error().rfind("anthill.toml:", 0) != 0) __builtin_trap();
  return 0;
}
