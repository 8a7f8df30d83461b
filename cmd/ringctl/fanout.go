package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/ringd/ringd/clientlib/api"
)

// allFlags are the flags of a step that may run on every member.
func allFlags(fs *flag.FlagSet, o *cmdOpts) {
	fs.BoolVar(&o.all, "all", false, "on every member the cluster lists, through their API addresses, instead of only the one at --addr")
	fs.BoolVar(&o.skipDead, "skip-dead", false, "with --all, leave out members that are not alive (gone for good) instead of refusing")
}

// outcome is what one member made of a step run on several (keys,
// recover).
type outcome struct {
	Member string    `json:"member"`
	Status string    `json:"status,omitempty"`
	Keys   *api.Keys `json:"keys,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// fanOut runs step on the member at --addr, or with --all on every member,
// one after the other. It returns nil outcomes when the members could not
// be listed (the error says why); otherwise every outcome, and an error
// when some failed: the one member's own error without --all.
func (c *ctl) fanOut(ctx context.Context, o *cmdOpts, step func(t *ctl) (outcome, error)) ([]outcome, error) {
	targets := []*ctl{c}
	if o.all {
		var err error
		if targets, err = c.everyMember(ctx, o.skipDead); err != nil {
			return nil, err
		}
	}
	var outcomes []outcome
	var errs []error
	for _, t := range targets {
		out, err := step(t)
		if err != nil {
			out.Error = err.Error()
			errs = append(errs, err)
		}
		outcomes = append(outcomes, out)
	}
	switch {
	case len(errs) == 0:
		return outcomes, nil
	case !o.all:
		return outcomes, errs[0]
	}
	return outcomes, fmt.Errorf("failed on %d of %d members (listed above); run it again once they answer",
		len(errs), len(outcomes))
}

// printOutcomes prints one row per member (row for those that succeeded),
// or the outcomes as JSON.
func (c *ctl) printOutcomes(outcomes []outcome, header []string, row func(outcome) []string) error {
	if c.json {
		return c.printJSON(outcomes)
	}
	w := newTable(c.out)
	w.row(header...)
	for _, o := range outcomes {
		if o.Error != "" {
			w.row(o.Member, "error: "+o.Error)
			continue
		}
		w.row(row(o)...)
	}
	return w.flush()
}

// everyMember returns a ctl for every member the cluster lists, by their
// advertised API addresses, with this one's scheme, token and trust.
func (c *ctl) everyMember(ctx context.Context, skipDead bool) ([]*ctl, error) {
	var ms api.Members
	if err := c.get(ctx, "/members", nil, 0, &ms); err != nil {
		return nil, err
	}
	var out []*ctl
	var missing, dead []string
	for _, m := range ms.Members {
		switch {
		case !m.Alive && !skipDead:
			dead = append(dead, m.Name)
			continue
		case !m.Alive:
			continue
		case m.HTTPAddr == "":
			missing = append(missing, m.Name)
			continue
		}
		t := *c
		t.base = &url.URL{Scheme: c.base.Scheme, Host: m.HTTPAddr}
		t.name = m.Name
		out = append(out, &t)
	}
	slices.Sort(dead)
	slices.Sort(missing)
	switch {
	case len(dead) > 0:
		// A member that misses a key step cannot read the others after
		// the next one, one that misses recover elects by the old voters:
		// every member or none.
		return nil, fmt.Errorf("members %s are not alive, and this step must reach every member; run it again once they are, "+
			"or pass --skip-dead for members that are gone for good", strings.Join(dead, ", "))
	case len(missing) > 0:
		return nil, fmt.Errorf("members %s have no API address other members can reach (their --http-addr is loopback); "+
			"run the step on each of them with --addr, or give them --http-advertise-addr", strings.Join(missing, ", "))
	}
	return out, nil
}
