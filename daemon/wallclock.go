//go:build !testclock

package daemon

import "time"

// wallNow is the wall clock the daemon reads where wall-clock values matter
// (term floors, the first view index). Only a test build can shift it (see
// wallclock_testclock.go): libfaketime cannot move Go's clock, which reads
// the vDSO.
func wallNow() time.Time { return time.Now() }

// WallClockOffset is the shift of wallNow: always 0 in a normal build.
const WallClockOffset time.Duration = 0
