// Detached: what a detach found, said by every layer that detaches (a
// backend, the gdbstub Target above it) so that the daemon's log tells what
// became of the guest when a client leaves without `D`.
//
// Contract: Resumed, the guest runs on as it was before gdb came;
// GuestGone, there is nothing to resume (its VMM exited or was killed);
// NeverRuns, the target has no execution at all (a core file).
#pragma once

namespace svedbg {

enum class Detached { Resumed, GuestGone, NeverRuns };

}  // namespace svedbg
