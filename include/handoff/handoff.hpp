// handoff: thread synchronisation channels with Lwt's meanings (mvar, condition, stream) on OS threads.
// This header includes every primitive; include the individual headers to keep builds lean.
#pragma once

#include "mvar.hpp"
#include "status.hpp"
