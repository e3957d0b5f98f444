// The anthill command's exit codes, as the README's "Exit codes" table lists
// them.
// Thread: constants.
#pragma once

namespace anthill::cli {

inline constexpr int kExitUnreachable = 1;  // the daemon not reached, or not answering as Anthill
inline constexpr int kExitConfig = 2;       // the config file is wrong or missing
inline constexpr int kExitUsage = 2;    // the command line is wrong; nothing was asked of anyone
inline constexpr int kExitRefused = 3;  // the daemon said no (unknown project, bad ref, token)
inline constexpr int kExitDeployFailed = 4;  // the deployment ended other than succeeded

}  // namespace anthill::cli
