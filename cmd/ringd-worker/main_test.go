package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/clientlib"
)

func TestBadFlagsExit2WithAReason(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--item-time", "0s"}, "--item-time is 0s, must be positive"},
		{[]string{"--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--ringd", "ftp://x"}, "--ringd: clientlib: the ringd address"},
		{[]string{"--ledger", "nope"}, "--ledger: the ledger address"},
		{[]string{"--margin", "-1s"}, "--margin is -1s, must be positive"},
		{[]string{"extra"}, "unexpected arguments: extra"},
		{[]string{"--drain-timeout", "-1s"}, "--drain-timeout is -1s, must not be negative"},
		{[]string{"--name", ""}, "--name is empty"},
	} {
		var errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errOut.String(), tc.want)
		}
	}
}

// The recorder's check finds what it is there to find.
func TestRecorderCheckFindsOverlapAndTokensGoingDown(t *testing.T) {
	at := time.Unix(1000, 0)
	sec := func(n int) time.Time { return at.Add(time.Duration(n) * time.Second) }
	rec := &recorder{spans: []*span{
		{member: "a", p: clientlib.Partition{ID: 1, Token: 5}, from: sec(0), to: sec(10)},
		{member: "b", p: clientlib.Partition{ID: 1, Token: 6}, from: sec(9), to: sec(20)},  // overlaps a
		{member: "c", p: clientlib.Partition{ID: 1, Token: 4}, from: sec(21), to: sec(22)}, // token down
		{member: "a", p: clientlib.Partition{ID: 2, Token: 5}, from: sec(0), to: sec(3)},   // fine
		{member: "a", p: clientlib.Partition{ID: 2, Token: 5}, from: sec(4), to: sec(5)},   // same grant again: fine
		{member: "b", p: clientlib.Partition{ID: 2, Token: 5}, from: sec(6), to: sec(7)},   // same token elsewhere
		{member: "b", p: clientlib.Partition{ID: 3, Token: 1}, from: sec(0)},               // never returned
		{member: "c", p: clientlib.Partition{ID: 3, Token: 2}, from: sec(30), to: sec(31)}, // overlaps it
	}}
	bad := rec.check()
	if len(bad) != 4 {
		t.Fatalf("found %d problems, want 4:\n%s", len(bad), strings.Join(bad, "\n"))
	}
}
