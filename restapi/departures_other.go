//go:build !linux

package restapi

// startDepartures watches nothing outside Linux: a client that leaves a
// parked poll is noticed when its answer is written (the change, or its
// ?wait= running out), and an answered connection goes back to net/http
// at once.
func startDepartures(func(*parkedPoll, bool)) departures { return noDepartures{} }
