package daemon

// TestClockOffsetEnv names the environment variable that shifts the wall
// clock of a ringd built with -tags testclock, as a stepped clock would
// (e.g. RINGD_TEST_CLOCK_OFFSET=-1h). Tests use it to restart members with a
// clock set back. Monotonic time (leases, timers) is not shifted, as a
// stepped clock does not shift it either. A normal build ignores it.
const TestClockOffsetEnv = "RINGD_TEST_CLOCK_OFFSET"
