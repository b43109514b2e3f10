// Command crossrank re-ranks documents for a query with a cross-encoder.
//
// Each subcommand lives in a file of its own (cmd_<name>.go) and registers
// itself in init with register.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	name  string
	short string // one line for `crossrank help`
	// run parses args (without the subcommand's name) and does the work.
	// It returns the process exit code.
	run func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func runMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintf(stdout, "crossrank %s\n", version)
		return 0
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return c.run([]string{"-h"}, stdin, stdout, stderr)
			}
			fmt.Fprintf(stderr, "crossrank: unknown command %q\n", args[1])
			return 2
		}
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "crossrank: unknown command %q (see crossrank help)\n", args[0])
		return 2
	}
	return c.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "crossrank: cross-encoder re-ranking in Go")
	fmt.Fprintln(w, "\nusage: crossrank <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w, "\n`crossrank help <command>` shows a command's flags.")
}

// parseFlags parses a subcommand's flags. When it says stop, the command
// returns code at once: 0 after -h (help was printed), 2 for a bad flag
// (the flag package has said what was wrong).
func parseFlags(fs *flag.FlagSet, args []string) (code int, stop bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		return 0, true
	default:
		return 2, true
	}
}

// newFlagSet returns a flag set whose errors and help go to stderr and
// which does not exit the process.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("crossrank "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
