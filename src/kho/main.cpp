#include "kho/cli/cli.hpp"

int main(int argc, char** argv) { return kho::cli::run(argc, argv); }
