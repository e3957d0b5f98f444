// Force-included into the config harness before toml++.
//
// Anthill links Debian's libtomlplusplus.so 3.3.0. Its assertions are compiled
// out (`nm -D` shows no __assert_fail import), so TOML_ASSERT is empty and
// TOML_ASSERT_ASSUME is TOML_ASSUME, which Debian's compiler, GCC 12 (no
// __builtin_assume), also leaves empty: a failed check is not evaluated
// and the parser goes on, to an error such as "could not determine value type".
// The harness builds toml++ from its headers with clang, where the default
// TOML_ASSERT aborts and NDEBUG would turn TOML_ASSERT_ASSUME into clang's
// __builtin_assume (undefined behaviour the sanitizers cannot see). Defining
// TOML_ASSERT as nothing, without NDEBUG, makes both behave as in the shipped
// library, and whatever the parser then does is still under ASan and UBSan.
// TOML_UNREACHABLE stays __builtin_unreachable: UBSan reports it, and it is
// undefined in the shipped library too, so the guard must keep it unreached.
#pragma once

#define TOML_ASSERT(expr) static_assert(true)
