package main

import (
	"context"
	"fmt"

	"github.com/ringd/ringd/clientlib/api"
)

// recoverCommand is `ringctl recover NAME...`.
var recoverCommand = command{
	name: "recover", args: "NAME...",
	summary: "after a majority of the voters is lost for good: make the named surviving members the voters (--all: on every surviving member)",
	details: "When a majority of the voters is gone for good, no leader can be elected and every lease runs out. Run, with the\n" +
		"names of surviving members (3 or 5 of them, or all when fewer), on every surviving member:\n" +
		"  ringctl recover --all --skip-dead ringd-2 ringd-3 ringd-4\n" +
		"The named members elect a leader among themselves, which writes the new voters into its first table; the\n" +
		"cluster is covered again after the usual safe wait. ringd refuses while a leader is in office. Only if the\n" +
		"lost voters are really gone: were they to come back with a majority of the old voters, they could elect a\n" +
		"second leader. Stop them for good (or wipe their --data-dir) first.",
	flags: allFlags,
	run:   runRecover,
}

func runRecover(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
	if len(args) == 0 {
		return usagef("recover needs the NAMEs of the members that vote from now on")
	}
	outcomes, err := c.fanOut(ctx, o, func(t *ctl) (outcome, error) {
		var res api.Result
		err := t.admin(ctx, "/admin/recover", api.RecoverRequest{Voters: args}, &res)
		return outcome{Member: t.name, Status: res.Status}, err
	})
	if outcomes == nil {
		return err
	}
	if perr := c.printOutcomes(outcomes, []string{"MEMBER", "RESULT"}, func(o outcome) []string {
		return []string{o.Member, o.Status}
	}); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	return nil
}
