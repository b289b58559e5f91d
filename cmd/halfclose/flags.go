package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/resolver"

	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/flagenv"
	"github.com/halfclose/halfclose/internal/hostport"
)

// envPrefix names the client's variables: HALFCLOSE_CLIENT_ADDR for --addr.
// The server's are HALFCLOSE_*, so one never moves the other.
const envPrefix = "HALFCLOSE_CLIENT"

// The bounds of --chunk-size: below 16 KiB a message costs more than its
// bytes (a gRPC message is at least one 16 KiB HTTP/2 frame's worth of
// work); above 16 MiB the client holds more than it gains (a few messages
// are in flight at once).
const (
	minChunkSize = 16 << 10
	maxChunkSize = 16 << 20
)

// The defaults of --addr and --tcp-addr.
const (
	defaultAddr    = "127.0.0.1:50051"
	defaultTCPAddr = "127.0.0.1:50052"
)

type options struct {
	addr      string
	tcp       bool
	tcpAddr   string
	timeout   time.Duration
	caFile    string
	certFile  string
	keyFile   string
	tokenFile string
	useTLS    bool
	progress  autoBool
	chunkSize flagenv.Bytes

	help, version, list, listNames bool
	generate                       string
}

// autoBool is a bool flag that remembers whether it was set: --progress
// forces progress on, --progress=false off, and unset means "decide".
type autoBool struct{ set, on bool }

func (b *autoBool) IsBoolFlag() bool { return true }

func (b *autoBool) String() string {
	if b == nil || !b.set {
		return "auto"
	}
	return strconv.FormatBool(b.on)
}

func (b *autoBool) Set(v string) error {
	on, err := strconv.ParseBool(v)
	if err != nil {
		// Not strconv's wording, which HALFCLOSE_CLIENT_PROGRESS's
		// error repeated ("strconv.ParseBool: parsing ...").
		return errors.New("not a boolean (true or false)")
	}
	b.set, b.on = true, on
	return nil
}

// newSpec defines the client's flags into o and describes them for --help,
// the man page and the completions.
func newSpec(o *options) *cli.Spec {
	fs := flag.NewFlagSet("halfclose", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", defaultAddr, "gRPC server: host:port; several as host:port,host:port,... (calls go round-robin, and a call refused with UNAVAILABLE is retried on another); or a gRPC target such as dns:///host:port")
	fs.BoolVar(&o.tcp, "tcp", false, "use the raw-TCP command port (--tcp-addr) instead of gRPC")
	fs.StringVar(&o.tcpAddr, "tcp-addr", defaultTCPAddr, "raw-TCP command port, with --tcp; several as host:port,host:port,... (one at random, the next when a connect fails)")
	fs.DurationVar(&o.timeout, "timeout", 0, "deadline for each call, e.g. 30s or 5m (0: none)")
	o.chunkSize = flagenv.Bytes(client.DefaultChunkSize)
	fs.Var(&o.chunkSize, "chunk-size", "size of the gRPC data messages the input is sent in (at most the server's --max-msg-bytes less 16 bytes)")
	fs.BoolVar(&o.useTLS, "tls", false, "use TLS with the system's CAs (implied by --cacert)")
	fs.StringVar(&o.caFile, "cacert", "", "CA certificate (PEM) to verify the server with")
	fs.StringVar(&o.certFile, "cert", "", "client certificate (PEM), for mutual TLS")
	fs.StringVar(&o.keyFile, "key", "", "client key (PEM), for mutual TLS")
	fs.StringVar(&o.tokenFile, "token-file", "", "file whose first token line (not blank, not a # comment) is the bearer token (gRPC metadata; with --tcp, @token= on the header line)")
	fs.Var(&o.progress, "progress", "show upload progress on stderr: bytes, rate, ETA (default: when stderr is a terminal and the upload is large; --progress=false: never)")
	fs.Var(&o.progress, "P", "same as --progress")
	fs.BoolVar(&o.list, "list", false, "list the server's commands and their flags (same as: halfclose commands)")
	fs.BoolVar(&o.listNames, "list-names", false, "list the server's command names only, one a line (for scripts)")
	fs.BoolVar(&o.help, "help", false, "show this help and exit")
	fs.BoolVar(&o.help, "h", false, "same as --help")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.generate, "generate", "", "print the man page or a completion script and exit")
	return &cli.Spec{
		Name:    "halfclose",
		Summary: "run a command on a halfclose server, rsh-style",
		Synopsis: []string{
			"[flags] COMMAND [ARGS...] < input",
			"[flags] 'COMMAND [ARGS...] | COMMAND ...' < input",
			"[flags] DIGEST [DIGEST-FLAGS] FILE...",
			"[flags] DIGEST -c|--check [CHECK-FLAGS] [LIST...]",
			"commands | --list",
		},
		Description: `Sends standard input to the server, ends it (a gRPC CloseSend, or a TCP
half-close with --tcp), and prints the remote command's output, which the
server sends only once the whole input has arrived.

One operand is pipeline text, split by the server with sh-style quoting:
quote it, as in halfclose 'grep ERROR | sort | uniq -c' < log. Several
operands are words, passed exactly as given. A digest command with FILE
operands (halfclose sha256sum *.go) uploads each file in its own stream and
prints what the GNU tool prints; - is standard input. With -c (--check)
it checks checksum lists as GNU's DIGEST -c does: the client reads each
LIST (none or -: standard input), uploads each file a line names, and
prints NAME: OK, NAME: FAILED or NAME: FAILED open or read, GNU's
warnings and exit status (--quiet, --status, --warn, --strict,
--ignore-missing as GNU's). halfclose commands lists what the server can
run.`,
		Flags: fs,
		Groups: []cli.Group{
			{Title: "Connection", Flags: []string{"addr", "tcp", "tcp-addr", "timeout", "chunk-size"}},
			{Title: "TLS and authentication", Flags: []string{"tls", "cacert", "cert", "key", "token-file"}},
			{Title: "Output", Flags: []string{"progress"}},
			{Title: "Information", Flags: []string{"list", "list-names", "help", "version", "generate"}},
		},
		Short:     map[string]string{"progress": "P", "help": "h"},
		EnvPrefix: envPrefix,
		NoEnv:     map[string]bool{"help": true, "h": true, "P": true, "version": true, "generate": true, "list": true, "list-names": true},
		Values: map[string]string{
			"cacert": "file", "cert": "file", "key": "file", "token-file": "file",
			"generate": "man complete-bash complete-zsh complete-fish",
		},
		ValueNames: map[string]string{
			"addr": "HOST:PORT", "tcp-addr": "HOST:PORT", "timeout": "DURATION", "chunk-size": "BYTES",
			"cacert": "FILE", "cert": "FILE", "key": "FILE", "token-file": "FILE", "generate": "KIND",
		},
		Commands: "--list-names --timeout 2s",
		Sections: []cli.Section{
			{Title: "Exit status", Text: `0: the command ran and its whole output was printed.

1: the server or the connection failed (the error, with its gRPC code, is
on standard error), or a FILE could not be read (the others still ran),
or a check (-c) found a file that failed or could not be read;
or, with no halfclose: line on standard error, the pipeline's exit
status was 1: grep selected no line, sort -c found a disorder (a
pipeline's status is its last command's, as in a shell). What the
commands write on standard error, sort -c's disorder line, is printed
there (over gRPC; a --tcp reply carries the status only).

2: a bad flag or argument, or a TLS or token file that cannot be used;
or, with no halfclose: line on standard error, the pipeline's exit
status was 2: gunzip ignored trailing garbage (GNU gzip's warning).

130, 143: interrupted by SIGINT (130) or SIGTERM (143); the call is
cancelled and the server discards the input.`},
			{Title: "Examples", Text: `  halfclose sha256sum < big.iso
  halfclose sha256sum *.go
  halfclose sha256sum -c SHA256SUMS
  halfclose 'grep -c ERROR' < app.log
  halfclose --tcp wc -l < README.md
  halfclose --addr build.example:50051 --cacert ca.pem 'sort | uniq -c' < words
  halfclose commands`},
			{Title: "See also", Text: `halfclosed(1); docs/cli.md and docs/protocol.md in the source.`},
		},
	}
}

// checkAddr reports what is wrong with the value of an address flag
// before anything is dialled: each address of a list must be HOST:PORT
// with a port that is a number from 1 to 65535 or a service name (gRPC
// took "127.0.0.1" as port 443 and said "connection refused", and turned
// "127.0.0.1:" and "h:1:2" into its retry machinery's wording). A gRPC
// target URI (dns:///host:port, unix:///path) is gRPC's to read, when
// uri is set (--addr) and its scheme is one gRPC resolves.
func checkAddr(flagName, value string, uri bool) error {
	if uri {
		scheme, rest, ok := strings.Cut(value, ":")
		if ok && resolver.Get(strings.ToLower(scheme)) != nil {
			return nil
		}
		// gRPC core's (grpcio's, grpc-js's) address-list targets,
		// ipv4:127.0.0.1:50051 and ipv6:[::1]:50051, which grpc-go does
		// not resolve: the list itself is what this client takes.
		if s := strings.ToLower(scheme); ok && (s == "ipv4" || s == "ipv6") {
			alone := strings.TrimLeft(rest, "/")
			if alone == "" { // "ipv6:": an example, not an empty value
				alone = map[string]string{"ipv4": "127.0.0.1:50051", "ipv6": "[::1]:50051"}[s]
			}
			return fmt.Errorf("%s %q: %s: targets are gRPC core's (Python, Node), not this client's: give the addresses alone, %s %s", flagName, value, scheme, flagName, alone)
		}
	}
	for _, a := range strings.Split(value, ",") {
		a = strings.TrimSpace(a)
		what := ""
		if a != value {
			what = fmt.Sprintf("%q ", a) // which one of the list
		}
		why := ""
		host, port, err := net.SplitHostPort(a)
		switch {
		case a == "":
			why = "an empty address in the list"
		case err != nil && hostport.BracketHint(a) != "":
			why = what + "is not HOST:PORT: " + hostport.BracketHint(a)
		case err != nil && strings.Contains(err.Error(), "missing port"), err == nil && port == "":
			why = what + "has no port"
		case err != nil, strings.Contains(host, "/"):
			why = what + "is not HOST:PORT"
		default:
			if n, err := strconv.Atoi(port); err == nil {
				if n < 1 || n > 65535 {
					why = fmt.Sprintf("%sport %s is not between 1 and 65535", what, port)
				}
			} else if _, err := net.LookupPort("tcp", port); err != nil {
				why = fmt.Sprintf("%sport %q is not a number or a known service", what, port)
			}
		}
		if why != "" {
			example := map[string]string{"--addr": "127.0.0.1:50051", "--tcp-addr": "127.0.0.1:50052"}[flagName]
			sep := ": "
			if what == "" && (strings.HasPrefix(why, "has ") || strings.HasPrefix(why, "is ")) {
				sep = " " // `--addr "h" has no port`
			}
			return fmt.Errorf("%s %q%s%s (want HOST:PORT, e.g. %s)", flagName, value, sep, why, example)
		}
	}
	return nil
}
