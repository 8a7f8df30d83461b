//go:build testclock

package daemon

import (
	"fmt"
	"os"
	"time"
)

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
