// harness/src/main.cpp: spill-bench's entry point.
//
//   spill-bench list [--json]
//   spill-bench run SCENARIO [options]
//   spill-bench sweep FILE [options]
//   spill-bench merge OUT.json SHARD.json... [--csv] [--force]
//   spill-bench topology [--pin POLICY] [--counters LIST] [--topology FILE.xml|synthetic:DESC]
//
// See harness/README.md. Bad input ends with one line on stderr naming the
// value, exit code 2, and no output file. The work is split by job:
// cli (command line), plan (what runs), runner (running it), record (what a
// point is and how it is written), results (the file), metadata, commands.
#include <iostream>

#include "cli.hpp"
#include "commands.hpp"
#include "grid.hpp"

using namespace spill::bench;

namespace {

int real_main(int argc, char** argv) {
    const Command c = parse_command_line(argc, argv);
    switch (c.kind) {
        case Command::Kind::help:
            usage(c.usage_error ? std::cerr : std::cout);
            return c.usage_error ? exit_input : 0;
        case Command::Kind::list: return cmd_list(c.json);
        case Command::Kind::topology: return cmd_topology(c.pin, c.counters, c.topology);
        case Command::Kind::merge: return cmd_merge(c.args, c.csv, c.force, join_args(argc, argv));
        case Command::Kind::run: return cmd_run(c.run);
    }
    return exit_input;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return real_main(argc, argv);
    } catch (const InputError& e) {
        std::cerr << "spill-bench: error: " << e.what() << "\n";
        return exit_input;
    } catch (const std::exception& e) {
        std::cerr << "spill-bench: fatal: " << e.what() << "\n";
        return 1;
    }
}
