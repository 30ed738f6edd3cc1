// `berth image ...`: the local image store from the command line (import, ls,
// rm, pull, prune). Works on DATA/images directly, so it needs no running
// server and can share the store with one (the store locks what it must).
#pragma once

namespace CLI {
class App;
}

namespace berth {

// Adds the `image` subcommand tree to `app`. The chosen command runs while
// the command line is parsed and leaves its exit code in *exit_code
// (0 success, 1 failure; messages go to stderr).
void AddImageCommand(CLI::App& app, int* exit_code);

}  // namespace berth
