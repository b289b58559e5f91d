// Command halfclose runs a command on a halfclose server, rsh-style: its
// standard input is the remote input, and the remote output comes back only
// after that input has ended.
//
//	halfclose [flags] COMMAND [ARGS...] < input
//	halfclose 'grep ERROR | sort | uniq -c' < log
//	halfclose sha256sum FILE...
//
// One argument is pipeline text, parsed by the server with sh-style
// quoting; several arguments are words, quoted here so the server sees
// exactly them.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/compute"
	"github.com/halfclose/halfclose/compute/builtin"
	"github.com/halfclose/halfclose/compute/engine"
	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/codename"
	"github.com/halfclose/halfclose/internal/flagenv"
)

func main() {
	oneCoreWhenPlain = os.Getenv("GOMAXPROCS") == ""
	ctx, stop := cancelOnSignal(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// oneCoreWhenPlain, set by main when the environment does not set
// GOMAXPROCS, runs a plaintext gRPC call on one core (GOMAXPROCS=1). Its
// goroutines (the input's reads, grpc-go's writer, its reader) mostly
// wait on each other and on syscalls; with a second core, Go's scheduler
// hands them between threads and wakes idle ones (futex wake-ups, a
// spinning thread, sysmon taking back a core blocked in a syscall) at a
// cost that one core does not pay: uploading 1 GiB cost 0.87 → 0.79
// CPU-s (head -c 0) and 7,500 → 4,700 context switches (docs/cli.md).
// With TLS the encryption is worth a second core, and the raw-TCP path
// measured the same either way: both keep Go's default.
var oneCoreWhenPlain bool

// signalCause is why a call was cancelled: SIGINT or SIGTERM.
type signalCause struct{ sig syscall.Signal }

func (s signalCause) Error() string {
	if s.sig == syscall.SIGINT {
		return "interrupted (SIGINT): the call was canceled"
	}
	return "terminated (SIGTERM): the call was canceled"
}

// exitCode is the shell's code for a death by the signal: 130, 143.
func (s signalCause) exitCode() int { return 128 + int(s.sig) }

// signalGrace is how long the CLI waits, after the first SIGINT or
// SIGTERM has cancelled the call, for the run to return before it exits
// anyway: a write to a pipe whose reader stopped reading (a pager, a
// stopped consumer) cannot be interrupted, and the process stayed until
// a second signal, where GNU's tools die at once.
const signalGrace = time.Second

// cancelOnSignal cancels ctx on the first SIGINT or SIGTERM, with a
// signalCause: the call in progress is cancelled (gRPC RST_STREAM, a TCP
// reset), never ended. After that first signal the default action is
// back, so a second one kills the process at once.
func cancelOnSignal(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			sc := signalCause{s.(syscall.Signal)}
			cancel(sc)
			select {
			case <-done:
			case <-time.After(signalGrace):
				// The call was cancelled, but the run has not come back:
				// it is blocked writing output that nobody reads (a full
				// pipe to a pager). The cancel already aborted the call.
				fmt.Fprintln(os.Stderr, "halfclose:", sc.Error())
				os.Exit(sc.exitCode())
			}
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// failure reports err on stderr, once, and returns the exit code: a call
// cancelled by a signal reports the signal (not the cancellation it
// caused) and exits as the shell's 128+N. what, when set, names the file
// (quoted as GNU quotes file names).
func (r *runner) failure(ctx context.Context, what string, err error) int {
	var sc signalCause
	if errors.As(context.Cause(ctx), &sc) {
		fmt.Fprintln(r.stderr, "halfclose:", sc.Error())
		return sc.exitCode()
	}
	if what != "" {
		fmt.Fprintf(r.stderr, "halfclose: %s: %s\n", quotef(what), r.describe(err))
	} else {
		fmt.Fprintln(r.stderr, "halfclose:", r.describe(err))
	}
	return 1
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// A failed write to it is reported as GNU's tools report it, in
	// every mode.
	stdout = &cli.Stdout{W: stdout}
	var o options
	spec := newSpec(&o)
	fs := spec.Flags
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		err = cli.ParseError(fs, err)
		fmt.Fprintf(stderr, "halfclose: %v\nTry 'halfclose --help' for more information.\n", err)
		return 2
	}
	// --help, --version and --generate read no variable: a bad one
	// failed them, and its error's hint was --help.
	switch {
	case o.help:
		return cli.PrintOut("halfclose", stdout, stderr, func(w io.Writer) error { spec.Usage(w); return nil })
	case o.version:
		return cli.PrintOut("halfclose", stdout, stderr, func(w io.Writer) error {
			_, err := fmt.Fprintln(w, cli.Version("halfclose"))
			return err
		})
	case o.generate != "":
		return cli.PrintOut("halfclose", stdout, stderr, func(w io.Writer) error { return spec.Generate(w, o.generate) })
	}
	// After the command line, so that a flag given there wins and its
	// variable is not read.
	vars, err := flagenv.Apply(fs, envPrefix, spec.NoEnvNames()...)
	if err != nil {
		fmt.Fprintln(stderr, "halfclose:", cli.EnvError(fs, err))
		return 2
	}
	words := fs.Args()
	switch {
	case len(words) == 0 && !o.list && !o.listNames:
		fmt.Fprintf(stderr, "halfclose: no command given\nUsage: halfclose [flags] COMMAND [ARGS...] < input\nTry 'halfclose --help' for more information.\n")
		return 2
	}
	if o.timeout < 0 {
		fmt.Fprintln(stderr, "halfclose:", vars.Name(fmt.Errorf("--timeout %v: a deadline cannot be negative (0: none)", o.timeout)))
		return 2
	}
	if (o.list || o.listNames) && len(words) > 0 {
		// Not a listing with the operands dropped: one or the other.
		fmt.Fprintf(stderr, "halfclose: --list and --list-names take no operands (got %q)\nTry 'halfclose --help' for more information.\n", words[0])
		return 2
	}
	if o.chunkSize < minChunkSize || o.chunkSize > maxChunkSize {
		fmt.Fprintln(stderr, "halfclose:", vars.Name(fmt.Errorf("--chunk-size must be between %s and %s", flagenv.FormatBytes(minChunkSize), flagenv.FormatBytes(maxChunkSize))))
		return 2
	}
	listing := o.list || o.listNames || len(words) == 1 && words[0] == "commands"
	addrErr := checkAddr("--addr", o.addr, true)
	if o.tcp && !listing {
		addrErr = checkAddr("--tcp-addr", o.tcpAddr, false)
	}
	if addrErr != nil {
		fmt.Fprintf(stderr, "halfclose: %v\n", vars.Name(addrErr))
		return 2
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "halfclose:", vars.Name(err))
		return 2
	}
	r := &runner{o: o, tls: tlsCfg, stderr: stderr, prog: decideProgress(o.progress, stdin, stderr), listing: listing}
	var token string
	if o.tokenFile != "" {
		if token, err = readToken(o.tokenFile); err != nil {
			fmt.Fprintln(stderr, "halfclose:", vars.Name(err))
			return 2
		}
		r.tcpOpts = append(r.tcpOpts, client.WithTCPToken(token))
	}
	if !r.o.tcp || listing {
		if oneCoreWhenPlain && tlsCfg == nil {
			runtime.GOMAXPROCS(1)
		}
		opts := []client.Option{client.WithChunkSize(int(o.chunkSize))}
		if tlsCfg != nil {
			opts = append(opts, client.WithTLS(tlsCfg))
		}
		if token != "" {
			opts = append(opts, client.WithToken(token))
		}
		c, err := client.Dial(o.addr, opts...)
		if err != nil {
			fmt.Fprintln(stderr, "halfclose:", err)
			return 2
		}
		defer c.Close()
		r.c = c
	}

	if listing {
		return r.listCommands(ctx, stdout)
	}
	if len(words) > 1 {
		if cr, ok, err := checkWords(words); err != nil {
			return r.failure(ctx, "", err)
		} else if ok {
			return r.checkLists(ctx, cr, stdin, stdout)
		}
	}
	if cmd, files, ok := digestFiles(words); ok {
		return r.digestFiles(ctx, cmd, files, stdin, stdout)
	} else if isDigest(words) {
		// A line its option table refuses (md5sum --bogus): named
		// before standard input is read, as GNU names it; a standard
		// input that cannot be read (a directory) said "halfclose:
		// reading input: ..." instead. A server that takes the line
		// (one newer than this client) gets it with its input.
		if _, err := r.run(ctx, quoteWords(words), strings.NewReader(""), io.Discard); err != nil {
			return r.failure(ctx, "", err)
		}
	}
	pipeline := words[0]
	if len(words) > 1 {
		pipeline = quoteWords(words)
	} else if pipeline, err = oneLineUTF8(pipeline); err != nil {
		return r.failure(ctx, "", err)
	}
	in, out, done := r.prog.track(stdin, stdout, stderr, "")
	sum, err := r.run(ctx, pipeline, in, out)
	done()
	if err != nil {
		return r.failure(ctx, "", err)
	}
	// What the commands wrote on standard error, as a local pipeline's
	// would appear: GNU sort -c's disorder line, grep's binary file note.
	for _, line := range sum.GetDiagnostics() {
		fmt.Fprintln(stderr, line)
	}
	if sc, ok := context.Cause(ctx).(signalCause); ok {
		// The reply was complete, but the user asked to stop.
		return r.failure(ctx, "", sc)
	}
	return exitStatus(sum.GetExitStatus())
}

// exitStatus is the exit code that passes on a pipeline's exit status (a
// shell's: its last command's, grep's 1 when it selected no line): the
// status itself, or 1 for one no process can exit with.
func exitStatus(st int32) int {
	if st < 0 || st > 255 {
		return 1
	}
	return int(st)
}

type runner struct {
	o       options
	tls     *tls.Config
	c       *client.Client
	tcpOpts []client.TCPOption
	stderr  io.Writer
	prog    progressMode
	// listing: a Capabilities call, over gRPC even with --tcp.
	listing bool
}

// run runs pipeline and returns its summary. Over TCP it holds the exit
// status alone (the @status trailer): the raw-TCP reply carries no
// diagnostics.
func (r *runner) run(ctx context.Context, pipeline string, in io.Reader, out io.Writer) (*apiv1.RunSummary, error) {
	if r.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.timeout)
		defer cancel()
	}
	// The input file's time goes only to a pipeline that prints it
	// (gzip -lv): a server older than @mtime refuses that header option
	// whatever the command, so it is sent over gRPC too only then.
	fileTime := engine.WantsInputFileTime(localRegistry, pipeline)
	if r.o.tcp {
		// The probe names one port: not done for a list of them.
		g := &h2Guard{w: out, addr: r.o.tcpAddr, probe: r.tls == nil && !strings.Contains(r.o.tcpAddr, ",")}
		var st int
		opts := append(r.tcpOpts[:len(r.tcpOpts):len(r.tcpOpts)], client.WithTCPStatus(&st))
		if fileTime {
			opts = append(opts, client.WithTCPFileTime())
		}
		err := g.finish(ctx, client.RunTCP(ctx, r.o.tcpAddr, r.tls, pipeline, in, g, opts...))
		return &apiv1.RunSummary{ExitStatus: int32(st)}, err
	}
	var opts []client.RunOption
	if fileTime {
		opts = append(opts, client.WithFileTime())
	}
	sum, err := r.c.Run(ctx, pipeline, in, out, opts...)
	return sum, ownDeadline(ctx, err)
}

// localRegistry holds every command this CLI was built with, to ask of
// the pipeline's first stage whether it prints its input file's time
// (engine.WantsInputFileTime) before the time is sent. A command it
// lacks (a newer server's) gets no time.
var localRegistry = builtin.Registry()

// ownDeadline marks a DEADLINE_EXCEEDED that came once ctx's deadline had
// passed as the client's own (ownDeadlineError), which describe names as
// --timeout. grpc-go says "context deadline exceeded" when its timer
// fired first; when the server's RST_STREAM for the same deadline arrived
// first, "stream terminated by RST_STREAM with error code: CANCEL" (a
// loaded machine, a short --timeout). Before the deadline the same bare
// words are the server's idle timeout's (serverIdleMessage).
func ownDeadline(ctx context.Context, err error) error {
	if status.Code(err) != codes.DeadlineExceeded {
		return err
	}
	if d, ok := ctx.Deadline(); ok && (!time.Now().Before(d) || errors.Is(ctx.Err(), context.DeadlineExceeded)) {
		return &ownDeadlineError{}
	}
	return err
}

// describe renders an error for stderr: a status as "CODE: message",
// without the "halfclose:" that the caller puts before it.
func describe(err error) string {
	if s, ok := status.FromError(err); ok {
		return fmt.Sprintf("%s: %s", codename.Of(s.Code()), s.Message())
	}
	return strings.TrimPrefix(err.Error(), "halfclose: ")
}

// quoteWords joins words into pipeline text that splits back into exactly
// those words: each word that needs it is single-quoted, or $'...'-quoted
// when it holds bytes that are not UTF-8 (a gRPC string must be) or a
// newline or carriage return (the TCP header is one line), so the text is
// valid UTF-8 on one line.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
		if i == 0 && q[i] == w && engine.IsCommandSyntax(w) {
			// x=1 or if, unquoted, is an assignment or a keyword
			// where a command starts, which the server refuses
			q[i] = "'" + w + "'"
		}
	}
	return strings.Join(q, " ")
}

func shellQuote(w string) string {
	if !utf8.ValidString(w) || strings.ContainsAny(w, "\n\r") {
		return dollarQuote(w)
	}
	if w != "" && strings.IndexFunc(w, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,+%@", c))
	}) < 0 {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// oneLineUTF8 returns pipeline text that means what text means and is
// valid UTF-8 on one line, as a gRPC string and the TCP header line must
// be: text holding other bytes, a newline or a carriage return is split
// as the server splits it and its words quoted again (quoteWords). Text
// that does not split is the error the server would send.
func oneLineUTF8(text string) (string, error) {
	if utf8.ValidString(text) && !strings.ContainsAny(text, "\n\r") {
		return text, nil
	}
	stages, err := engine.SplitPipeline(text)
	if err != nil {
		code := codes.InvalidArgument
		if compute.CodeOf(err) == compute.CodeResourceExhausted {
			code = codes.ResourceExhausted // text over engine.MaxPipelineBytes: a limit, as the server says
		}
		return "", status.Error(code, err.Error())
	}
	q := make([]string, len(stages))
	for i, words := range stages {
		q[i] = quoteWords(words)
	}
	return strings.Join(q, " | "), nil
}

// dollarQuote quotes w as $'...' (POSIX.1-2024, read by the server's
// pipeline splitter): \\ and \' escaped, \n and \r by name, each byte that
// is not part of a UTF-8 character as \xHH.
func dollarQuote(w string) string {
	var b strings.Builder
	b.WriteString("$'")
	for len(w) > 0 {
		r, n := utf8.DecodeRuneInString(w)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, "\\x%02x", w[0])
		case r == '\\' || r == '\'':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString("\\n")
		case r == '\r':
			b.WriteString("\\r")
		default:
			b.WriteString(w[:n])
		}
		w = w[n:]
	}
	b.WriteByte('\'')
	return b.String()
}

func (o *options) tlsConfig() (*tls.Config, error) {
	// One of a pair is a mistake, not a plaintext call: --key alone was
	// ignored, --cert alone said "open : no such file or directory".
	switch {
	case o.certFile != "" && o.keyFile == "":
		return nil, errors.New("--cert needs --key (the client certificate's private key)")
	case o.keyFile != "" && o.certFile == "":
		return nil, errors.New("--key needs --cert (the client certificate)")
	}
	if !o.useTLS && o.caFile == "" && o.certFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate", o.caFile)
		}
		cfg.RootCAs = pool
	}
	if o.certFile != "" || o.keyFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	// The first token line: the server's --auth-token-file format, so
	// one file serves both (blank lines, # comments and a byte order mark
	// skipped).
	for line := range strings.Lines(strings.TrimPrefix(string(b), "\ufeff")) {
		if tok := strings.TrimSpace(line); tok != "" && !strings.HasPrefix(tok, "#") {
			// halfclosed refuses such tokens in its file at start: they
			// could never match (gRPC metadata carries printable ASCII
			// only; @token ends at white space).
			if strings.ContainsAny(tok, " \t\v\f\r") {
				return "", fmt.Errorf("--token-file %s: the token contains white space", path)
			}
			if strings.IndexFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
				return "", fmt.Errorf("--token-file %s: the token contains a byte that is not printable ASCII (gRPC metadata cannot carry it)", path)
			}
			return tok, nil
		}
	}
	return "", errors.New("--token-file: empty token")
}
