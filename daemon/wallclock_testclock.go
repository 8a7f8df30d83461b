//go:build testclock

package daemon

import (
	"fmt"
	"os"
	"time"
)

// TestClockOffsetEnv names the environment variable that shifts the wall
// clock of a ringd built with -tags testclock, as a stepped clock would
// (e.g. RINGD_TEST_CLOCK_OFFSET=-1h). Tests use it to restart members with a
// clock set back. Monotonic time (leases, timers) is not shifted, as a
// stepped clock does not shift it either.
const TestClockOffsetEnv = "RINGD_TEST_CLOCK_OFFSET"

// WallClockOffset is read once at start from TestClockOffsetEnv.
var WallClockOffset = func() time.Duration {
	v := os.Getenv(TestClockOffsetEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ringd: $%s: %v\n", TestClockOffsetEnv, err)
		os.Exit(2)
	}
	return d
}()

func wallNow() time.Time { return time.Now().Add(WallClockOffset) }
