// handoff: thread synchronisation channels with Lwt's meanings (mvar, condition, stream) on OS threads.
// This header includes every primitive; include the individual headers to keep builds lean.
#pragma once

#include "adapters.hpp"
#include "choose.hpp"
#include "condition.hpp"
#include "debug.hpp"
#include "mvar.hpp"
#include "name.hpp"
#include "result.hpp"
#include "select.hpp"
#include "status.hpp"
#include "stream.hpp"
#include "topic.hpp"
