// The anthill command line: serve, check, status, deployments, version.
// Thread: the main thread.
#pragma once

namespace anthill::cli {

// Parses argv, runs the subcommand, returns the process exit code.
int Main(int argc, char** argv);

}  // namespace anthill::cli
