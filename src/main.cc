// anthill: the one binary. Everything happens in cli/.
#include "cli/cli.h"

int main(int argc, char** argv) { return anthill::cli::Main(argc, argv); }
