package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ringd/ringd/clientlib/api"
	"github.com/ringd/ringd/internal/secret"
)

// keysCommand is `ringctl keys list|install|use|remove`.
var keysCommand = command{
	name: "keys", args: "list|install|use|remove [KEY]",
	summary: "the gossip keyring: list keys by fingerprint, install one, make it primary, remove one (--all: on every member)",
	details: "A rotation without downtime, each step on every member before the next:\n" +
		"  ringctl keys install --key-file new.key --all   # every member decrypts with it\n" +
		"  ringctl keys use --key-file new.key --all       # every member encrypts with it\n" +
		"  ringctl keys remove --key-file old.key --all    # the old key is gone\n" +
		"Keys are shown by fingerprint (first 8 bytes of their SHA-256), never in full. A member with --data-dir keeps\n" +
		"its keyring there across restarts; without one, update --gossip-key-file before it restarts.",
	flags: func(fs *flag.FlagSet, o *cmdOpts) {
		fs.StringVar(&o.keyFile, "key-file", "", "read the key from this file instead of the command line (where other users see it)")
		fs.BoolVar(&o.all, "all", false, "on every member the cluster lists, through their API addresses, instead of only the one at --addr")
		fs.BoolVar(&o.skipDead, "skip-dead", false, "with --all, leave out members that are not alive instead of refusing")
	},
	run: runKeys,
}

func runKeys(ctx context.Context, c *ctl, o *cmdOpts, args []string) error {
	if len(args) == 0 {
		return usagef("keys needs a subcommand: list, install, use or remove")
	}
	op, args := args[0], args[1:]
	var key string
	switch op {
	case "list":
		if len(args) > 0 || o.keyFile != "" {
			return usagef("keys list takes no key")
		}
	case "install", "use", "remove":
		var err error
		if key, err = keyArg(op, o.keyFile, args); err != nil {
			return err
		}
	default:
		return usagef("unknown keys subcommand %q: list, install, use or remove", op)
	}
	targets := []*ctl{c}
	if o.all {
		var err error
		if targets, err = c.everyMember(ctx, o.skipDead); err != nil {
			return err
		}
	}
	// Each member in turn; the table says how each fared.
	type outcome struct {
		Member string    `json:"member"`
		Status string    `json:"status,omitempty"`
		Keys   *api.Keys `json:"keys,omitempty"`
		Error  string    `json:"error,omitempty"`
	}
	var outcomes []outcome
	var errs []error
	failed := 0
	for _, t := range targets {
		out := outcome{Member: t.name}
		var err error
		if op == "list" {
			var keys api.Keys
			if err = t.do(ctx, http.MethodGet, "/admin/keys", nil, nil, true, 0, &keys); err == nil {
				out.Keys, out.Status = &keys, "ok"
				out.Member = keys.Node
			}
		} else {
			var res api.Result
			if err = t.admin(ctx, "/admin/keys/"+op, api.KeyRequest{Key: key}, &res); err == nil {
				out.Status = res.Status
			}
		}
		if err != nil {
			out.Error = err.Error()
			errs = append(errs, err)
			failed++
		}
		outcomes = append(outcomes, out)
	}
	if c.json {
		if err := c.printJSON(outcomes); err != nil {
			return err
		}
	} else {
		w := newTable(c.out)
		if op == "list" {
			w.row("MEMBER", "PRIMARY", "KEYS")
		} else {
			w.row("MEMBER", "RESULT")
		}
		for _, o := range outcomes {
			switch {
			case o.Error != "":
				w.row(o.Member, "error: "+o.Error)
			case op == "list":
				var fps []string
				for _, k := range o.Keys.Keys {
					fps = append(fps, k.Fingerprint)
				}
				w.row(o.Member, o.Keys.Primary, strings.Join(fps, ","))
			default:
				w.row(o.Member, o.Status)
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
	}
	if failed > 0 && !o.all {
		return errs[0] // one member: its own answer, as the other commands give
	}
	if failed > 0 {
		return fmt.Errorf("keys %s failed on %d of %d members (listed above); run it again once they answer", op, failed, len(outcomes))
	}
	return nil
}

// keyArg takes the key from --key-file or the one argument, and checks it
// before anything is sent.
func keyArg(op, keyFile string, args []string) (string, error) {
	var text string
	switch {
	case keyFile != "" && len(args) > 0:
		return "", usagef("keys %s: give the key or --key-file, not both", op)
	case keyFile != "":
		keys, err := secret.GossipKeysFile(keyFile)
		if err != nil {
			return "", usagef("--key-file: %v", err)
		}
		if len(keys) != 1 {
			return "", usagef("--key-file %s holds %d keys; give a file with the one key to %s", keyFile, len(keys), op)
		}
		return encodeKey(keys[0]), nil
	case len(args) == 1:
		text = args[0]
	default:
		return "", usagef("keys %s needs one KEY (base64) or --key-file", op)
	}
	key, err := secret.GossipKey(text)
	if err != nil {
		return "", usagef("keys %s: bad key: %v", op, err)
	}
	return encodeKey(key), nil
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
		// A member that misses a step cannot read the others after the
		// next one: every member or none.
		return nil, fmt.Errorf("members %s are not alive, and a key step must reach every member; run it again once they are, "+
			"or pass --skip-dead for members that are gone for good (restarted, they need the new key in their key file)", strings.Join(dead, ", "))
	case len(missing) > 0:
		return nil, fmt.Errorf("members %s have no API address other members can reach (their --http-addr is loopback); "+
			"run the step on each of them with --addr, or give them --http-advertise-addr", strings.Join(missing, ", "))
	}
	return out, nil
}

func encodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }
