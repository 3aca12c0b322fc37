// Graceful stop on SIGTERM / SIGINT: the first signal only sets a flag that the training loop
// polls after each optimizer step (it then saves and exits 128 + signal); a second one ends the
// process at once with the default action.
#pragma once

namespace dfer::train {

// Installs the handlers (idempotent) and clears the flag.
void install_stop_handlers();
// Restores the default actions.
void remove_stop_handlers();
// 0 when no stop was requested, else the signal number (SIGTERM, SIGINT).
int stop_signal();
// Conventional exit code for a stop by `signal` (143 for SIGTERM, 130 for SIGINT).
inline int exit_code_for_signal(int signal) {
  return 128 + signal;
}

}  // namespace dfer::train
