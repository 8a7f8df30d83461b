//go:build !linux

package restapi

// startDepartures watches nothing outside Linux: a client that leaves a
// parked poll is noticed when its answer is written (the change, or its
// ?wait= running out).
func startDepartures(func(*parkedPoll)) departures { return noDepartures{} }
