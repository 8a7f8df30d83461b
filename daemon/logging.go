package daemon

import (
	"io"
	"log"

	"github.com/hashicorp/go-hclog"
)

// Logger names. There is one root logger, LogRoot; every part of ringd logs
// through root.Named(<one of these>), so a line shows where it came from
// ("ringd.election").
const (
	// LogRoot names the root logger NewLogger returns.
	LogRoot = "ringd"
	// LogMemberlist is memberlist's own output (see MemberlistLogger).
	LogMemberlist = "memberlist"
	// LogElection is the election state machine and its host loop.
	LogElection = "election"
	// LogTable is the assignment table: new versions, applied tables, leases.
	LogTable = "table"
	// LogRebalance is planning and the moves the leader makes.
	LogRebalance = "rebalance"
	// LogHTTP is the app-facing REST API.
	LogHTTP = "http"
	// LogPeer is peer messages between ringd members.
	LogPeer = "peer"
)

// LogTimeFormat is the timestamp of text log lines: RFC 3339 with
// milliseconds, which ordering events during an incident needs.
const LogTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// NewLogger returns the root logger, named LogRoot, writing to out (standard
// error when nil) at level (trace, debug, info, warn or error, any case;
// anything else means info), as JSON lines when json is set, otherwise as
// text without colour.
func NewLogger(level string, json bool, out io.Writer) hclog.Logger {
	lvl := hclog.LevelFromString(level)
	if lvl == hclog.NoLevel || lvl == hclog.Off {
		lvl = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       LogRoot,
		Level:      lvl,
		Output:     out,
		JSONFormat: json,
		TimeFormat: LogTimeFormat,
		Color:      hclog.ColorOff,
	})
}

// MemberlistLogger adapts root for memberlist's Config.Logger. Memberlist
// writes lines like "[WARN] memberlist: ..."; the level prefix becomes the
// hclog level, so the root level filters memberlist's chatter as well.
func MemberlistLogger(root hclog.Logger) *log.Logger {
	return root.Named(LogMemberlist).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
}
