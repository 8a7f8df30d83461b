package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"net/http"
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
		allFlags(fs, o)
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
	outcomes, err := c.fanOut(ctx, o, func(t *ctl) (outcome, error) {
		out := outcome{Member: t.name}
		if op == "list" {
			var keys api.Keys
			err := t.do(ctx, http.MethodGet, "/admin/keys", nil, nil, true, 0, &keys)
			if err == nil {
				out.Keys, out.Status, out.Member = &keys, "ok", keys.Node
			}
			return out, err
		}
		var res api.Result
		err := t.admin(ctx, "/admin/keys/"+op, api.KeyRequest{Key: key}, &res)
		out.Status = res.Status
		return out, err
	})
	if outcomes == nil {
		return err
	}
	header := []string{"MEMBER", "RESULT"}
	row := func(o outcome) []string { return []string{o.Member, o.Status} }
	if op == "list" {
		header = []string{"MEMBER", "PRIMARY", "KEYS"}
		row = func(o outcome) []string {
			var fps []string
			for _, k := range o.Keys.Keys {
				fps = append(fps, k.Fingerprint)
			}
			return []string{o.Member, o.Keys.Primary, strings.Join(fps, ",")}
		}
	}
	if perr := c.printOutcomes(outcomes, header, row); perr != nil {
		return perr
	}
	if err != nil {
		return fmt.Errorf("keys %s: %w", op, err)
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

func encodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }
