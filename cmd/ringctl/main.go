// Command ringctl is the operator's command line for ringd: it talks to one
// ringd over its REST API (the local one by default) to show the cluster,
// the partitions and where a key goes, and to drain a member, undrain it or
// hand leadership over.
//
//	ringctl [--addr HOST:PORT] [--token-file FILE] [--json] COMMAND [ARGS]
//
// Exit status: 0 on success, 1 when ringd refuses or cannot be reached, 2
// on bad usage. Every failure prints one line on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ringd/ringd/internal/buildinfo"
)

// Exit statuses.
const (
	exitOK      = 0
	exitRefused = 1 // ringd answered with an error, or could not be reached
	exitUsage   = 2 // bad flags or arguments
)

// defaultAddr is ringd's default --http-addr: ringctl run beside a ringd
// (in its pod, on its host) needs no flag.
const defaultAddr = "127.0.0.1:7070"

// usageError is a mistake in the command line: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errHelp: --help was asked for; the usage went to stdout.
var errHelp = errors.New("help requested")

// command is one subcommand.
type command struct {
	name    string
	args    string // the arguments after the name, for the usage line
	summary string
	// details are printed by COMMAND --help after the summary.
	details string
	// flags adds the command's own flags; nil when it has none.
	flags func(fs *flag.FlagSet, o *cmdOpts)
	run   func(ctx context.Context, c *ctl, o *cmdOpts, args []string) error
}

// cmdOpts are the flags of the commands (each command binds the ones it has).
type cmdOpts struct {
	watch    bool
	owner    string
	wait     bool
	timeout  time.Duration
	keyFile  string
	all      bool
	skipDead bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := realMain(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// realMain is main with its inputs and outputs passed in; it returns the
// exit status.
func realMain(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	err := run(ctx, args, env, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ringctl: %s (see ringctl --help)\n", oneLine(err.Error()))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ringctl: %s\n", oneLine(err.Error()))
		return exitRefused
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "; ") }

func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ringctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	addr := fs.String("addr", "", "host:port of the ringd to talk to (default $RINGCTL_ADDR, else "+defaultAddr+")")
	tokenFile := fs.String("token-file", "", "file holding ringd's admin token, for drain, undrain, transfer-leader and keys (default $RINGCTL_TOKEN_FILE)")
	caFile := fs.String("ca-file", "", "PEM certificates to trust for an https:// --addr, instead of the system's (default $RINGCTL_CA_FILE)")
	asJSON := fs.Bool("json", false, "print JSON instead of tables, for scripts")
	timeout := fs.Duration("timeout", 10*time.Second, "how long one request to ringd may take")
	version := fs.Bool("version", false, "print ringctl's version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, fs)
			return errHelp
		}
		return usagef("%s", flagError(err))
	}
	if *version {
		fmt.Fprintf(stdout, "ringctl %s\n", buildinfo.Get())
		return nil
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usagef("no command given")
	}
	name, rest := rest[0], rest[1:]
	if name == "help" {
		if len(rest) == 0 {
			printUsage(stdout, fs)
			return errHelp
		}
		name, rest = rest[0], []string{"--help"}
	}
	cmd, ok := findCommand(name)
	if !ok {
		return usagef("unknown command %q; the commands are %s", name, commandNames())
	}
	if *addr == "" {
		*addr = env("RINGCTL_ADDR")
	}
	if *addr == "" {
		*addr = defaultAddr
	}
	if *tokenFile == "" {
		*tokenFile = env("RINGCTL_TOKEN_FILE")
	}
	if *caFile == "" {
		*caFile = env("RINGCTL_CA_FILE")
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive, not %v", *timeout)
	}
	var o cmdOpts
	cfs := flag.NewFlagSet("ringctl "+cmd.name, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	if cmd.flags != nil {
		cmd.flags(cfs, &o)
	}
	positional, err := parseInterspersed(cfs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandUsage(stdout, cmd, cfs)
			return errHelp
		}
		return usagef("%s: %s", cmd.name, flagError(err))
	}
	c, err := newCtl(*addr, *tokenFile, *caFile, *timeout, *asJSON, stdout, stderr)
	if err != nil {
		return err
	}
	return cmd.run(ctx, c, &o, positional)
}

// parseInterspersed parses a command's flags wherever they stand among its
// arguments (`transfer-leader ringd-2 --wait` as well as `--wait ringd-2`);
// after "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// flagError drops the flag package's trailing usage hints.
func flagError(err error) string {
	return strings.TrimSuffix(err.Error(), "\n")
}

func findCommand(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func commandNames() string {
	var names []string
	for _, c := range commands {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "ringctl talks to a ringd over its REST API.\n\n"+
		"usage: ringctl [--addr HOST:PORT | https://HOST:PORT] [--token-file FILE] [--json] COMMAND [ARGS]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-34s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(w, "\nflags:\n")
	printFlags(w, fs)
	fmt.Fprintf(w, "\nringctl COMMAND --help describes a command. Exit status: 0 done, 1 ringd refused or "+
		"could not be reached, 2 bad usage.\n")
}

func printCommandUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: ringctl [global flags] %s\n\n%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", c.details)
	}
	if c.flags != nil {
		fmt.Fprintf(w, "\nflags:\n")
		printFlags(w, fs)
	}
}

func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%-14s %s%s\n", f.Name, f.Usage, def)
	})
}
