package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/halfclose/halfclose/client"
	"github.com/halfclose/halfclose/internal/cli"
	"github.com/halfclose/halfclose/internal/flagenv"
	"github.com/halfclose/halfclose/internal/sockerr"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// describe renders an error for stderr as "CODE: message", turning the
// transport's wording into what the user can act on: which host did not
// resolve, which port speaks the other protocol.
func (r *runner) describe(err error) string {
	flagName, addr := "--addr", r.o.addr
	if r.o.tcp && !r.listing {
		flagName, addr = "--tcp-addr", r.o.tcpAddr
	}
	var outErr *cli.OutputError
	if errors.As(err, &outErr) {
		return outErr.Error() // GNU's words, whatever wrapped it
	}
	var dnsErr *net.DNSError
	var wrong *wrongProtocolError
	var tlsPort *tlsPortError
	var notTLS tls.RecordHeaderError
	var badCert *tls.CertificateVerificationError
	switch {
	case errors.As(err, &wrong):
		return wrong.Error()
	case errors.As(err, &tlsPort):
		return tlsPort.Error()
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q (%s %s): %s", dnsErr.Name, flagName, addr, dnsErr.Err)
	case errors.As(err, &notTLS):
		return notTLSMessage(addr)
	case errors.As(err, &badCert):
		return certMessage(addr, badCert.Err.Error())
	case r.o.timeout > 0 && errors.Is(err, context.DeadlineExceeded):
		// --timeout, over TCP (gRPC's is a status, below).
		return timeoutMessage(r.o.timeout)
	case sockerr.Refused(err):
		msg := fmt.Sprintf("cannot connect to %s (%s): connection refused", addr, flagName)
		if flagName == "--tcp-addr" && r.o.tcpAddr == defaultTCPAddr && r.o.addr != defaultAddr {
			// halfclose --tcp --addr [::1]:7002 dialled the default
			// command port, --addr being gRPC's, and said only that.
			msg += fmt.Sprintf("; --addr (%s) is the gRPC address: with --tcp, give the command port as --tcp-addr", r.o.addr)
		}
		return msg
	}
	s, ok := status.FromError(err)
	if !ok {
		if msg := err.Error(); strings.Contains(msg, "remote error: tls: ") {
			// The raw-TCP port's TLS alert, as the gRPC port's below.
			return alertMessage(addr, msg, r.o.certFile)
		}
		return err.Error()
	}
	msg := s.Message()
	// The client's own deadline had passed (ownDeadline): --timeout's,
	// or a listing's own limit.
	var own *ownDeadlineError
	if errors.As(err, &own) {
		if r.listing && r.o.timeout <= 0 {
			return fmt.Sprintf("DEADLINE_EXCEEDED: the server did not answer within %v (a listing's limit; --timeout sets another)", listTimeout)
		}
		return timeoutMessage(r.o.timeout)
	}
	if s.Code() == codes.DeadlineExceeded && msg == context.DeadlineExceeded.Error() && !r.listing {
		// Before the client's deadline (or with none), these words are
		// an older server's: grpc-go's own status for a wait its
		// --idle-timeout stopped (a stream with no data message yet, a
		// reply not read), sent before the server's message could be.
		// A current halfclosed sends its own words then
		// (docs/operations.md, "Limits, as the clients see them").
		return serverIdleMessage
	}
	// grpc-go's words for the client's own deadline when it passed
	// before a connection was ready: "context deadline exceeded while
	// waiting for connections to become ready" (a loaded machine, a 10ms
	// --timeout).
	if s.Code() == codes.DeadlineExceeded && r.o.timeout > 0 && strings.HasPrefix(msg, context.DeadlineExceeded.Error()) {
		return timeoutMessage(r.o.timeout)
	}
	if s.Code() == codes.Unavailable {
		tls := r.o.useTLS || r.o.caFile != "" || r.o.certFile != ""
		// The server closed the connection before it sent a byte.
		unspoken := (strings.Contains(msg, "error reading server preface") || client.IsClosedUnspoken(msg)) && !strings.Contains(msg, tcpPortMessage)
		switch {
		case client.IsClosedAfterSpoken(msg):
			// The address spoke on an earlier connection of this run, so
			// it is no TLS port met in plaintext and no raw-TCP port: a
			// retry (the CLI's policy, after the first attempt's
			// connection broke) met a server or proxy that was stopping,
			// or one at its cap of connections.
			return fmt.Sprintf("UNAVAILABLE: %s closed a new connection before it spoke, though it had spoken gRPC on an earlier one: it (or a proxy in front of it) was stopping or restarting, or at its cap of connections (--grpc-max-conns, --grpc-max-conns-per-peer): try again", addr)
		case strings.Contains(msg, "first record does not look like a TLS handshake"):
			return "UNAVAILABLE: " + notTLSMessage(addr)
		case strings.Contains(msg, "x509: "):
			why := strings.TrimRight(msg[strings.Index(msg, "x509: "):], `"`)
			return "UNAVAILABLE: " + certMessage(addr, why)
		case !tls && unspoken && oneAddress(addr) && probePort(addr) == portTLS:
			return "UNAVAILABLE: " + (&tlsPortError{addr: addr}).Error()
		case strings.Contains(msg, "remote error: tls: "):
			return "UNAVAILABLE: " + alertMessage(addr, msg, r.o.certFile)
		case tls && client.IsClosedUnspoken(msg):
			// Closed before the server's side of the TLS handshake: the
			// client's hello, or what followed it, met the close.
			return fmt.Sprintf("UNAVAILABLE: %s closed the connection before its TLS handshake (halfclosed at its cap of connections, --grpc-max-conns or --grpc-max-conns-per-peer: try again later)", addr)
		case !tls && unspoken:
			// A TLS port closes on a plaintext client; a raw-TCP port of
			// halfclosed answers in HTTP/2 with tcpPortMessage; halfclosed
			// closes a connection over --grpc-max-conns or
			// --grpc-max-conns-per-peer unread (so that a proxy or a
			// round-robin client tries another server), and then the
			// port is the right one. grpc-go tells it as its reader
			// saw it (no server preface) or as its writer did (a write
			// to the closed connection: client.ClosedUnspoken, where it
			// said "write tcp A->B: write: broken pipe").
			return fmt.Sprintf("UNAVAILABLE: %s closed the connection without speaking gRPC (a TLS port? then add --tls or --cacert; a raw-TCP port of halfclosed? then use --tcp --tcp-addr %s; or halfclosed at its cap of connections, --grpc-max-conns or --grpc-max-conns-per-peer: try again later)", addr, addr)
		case tls && r.o.certFile == "" && !strings.Contains(msg, tcpPortMessage) &&
			(strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "error reading server preface")):
			// TLS 1.3: a server that wants a client certificate refuses
			// it after the client's side of the handshake, which then
			// sees its writes fail, not the server's alert.
			return fmt.Sprintf("UNAVAILABLE: %s closed the connection after the TLS handshake: it may require a client certificate (--cert and --key)", addr)
		case tls && r.o.certFile != "" && !strings.Contains(msg, tcpPortMessage) &&
			(strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "error reading server preface")):
			// The same, for a certificate the server refused: the alert
			// (above) does not always reach the client before its writes
			// fail.
			if why := clientCertProblem(r.o.certFile); why != "" {
				return fmt.Sprintf("UNAVAILABLE: %s closed the connection after the TLS handshake: %s", addr, why)
			}
			return fmt.Sprintf("UNAVAILABLE: %s closed the connection after the TLS handshake: it may not accept the client certificate (is --cert signed by the CA the server trusts?)", addr)
		case strings.Contains(msg, "produced zero addresses"), strings.Contains(msg, "name resolver error"), strings.Contains(msg, "no such host"),
			strings.Contains(msg, "no children to pick from"): // round_robin with no resolved address
			return "UNAVAILABLE: " + resolveError(addr, flagName)
		case strings.Contains(msg, "error reading server preface"), strings.Contains(msg, tcpPortMessage):
			return fmt.Sprintf("UNAVAILABLE: %s does not speak gRPC (is it a raw-TCP port of halfclosed? then use --tcp --tcp-addr %s)", addr, addr)
		case strings.Contains(msg, "connection refused"):
			return fmt.Sprintf("UNAVAILABLE: cannot connect to %s (%s): connection refused", addr, flagName)
		}
		return "UNAVAILABLE: " + transportMessage(msg)
	}
	if s.Code() == codes.ResourceExhausted && strings.Contains(msg, "received message larger than max") {
		// The server's --max-msg-bytes is below this client's data messages.
		return fmt.Sprintf("RESOURCE_EXHAUSTED: %s (the server takes smaller messages: lower --chunk-size, now %s)", msg, flagenv.FormatBytes(int64(r.o.chunkSize)))
	}
	return describe(err)
}

// ownDeadlineError is a DEADLINE_EXCEEDED that came once the call's own
// deadline had passed (ownDeadline): the client's, whatever grpc-go said.
type ownDeadlineError struct{}

func (*ownDeadlineError) Error() string {
	return "rpc error: code = DeadlineExceeded desc = " + context.DeadlineExceeded.Error()
}

func (*ownDeadlineError) GRPCStatus() *status.Status {
	return status.New(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
}

// serverIdleMessage explains grpc-go's bare "context deadline exceeded"
// when the call's own deadline, if any, had not passed: an older server's
// idle timeout (a current one names it itself).
const serverIdleMessage = "DEADLINE_EXCEEDED: the server's --idle-timeout ended the call: no input came, or the output was not read, for that long (context deadline exceeded)"

// timeoutMessage names the client's own deadline: grpc-go and the
// context said only "context deadline exceeded".
func timeoutMessage(d time.Duration) string {
	return fmt.Sprintf("DEADLINE_EXCEEDED: the call took longer than --timeout %v, and was aborted", d)
}

// transportMessage is msg without the layers of grpc-go's wording around
// a connection's failure ("max retries exhausted: failed after 4 attempts:
// rpc error: code = Unavailable desc = connection error: desc =
// \"transport: Error while dialing: ...\""): what is left says what
// happened.
func transportMessage(msg string) string {
	for {
		before := msg
		if rest, ok := strings.CutPrefix(msg, "max retries exhausted: failed after "); ok {
			if _, after, ok := strings.Cut(rest, " attempts: "); ok {
				msg = after
			}
		}
		for _, p := range []string{"rpc error: code = Unavailable desc = ", "connection error: desc = ", "transport: ", "Error while dialing: ", "authentication handshake failed: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		if len(msg) >= 2 && msg[0] == '"' && msg[len(msg)-1] == '"' {
			msg = msg[1 : len(msg)-1]
		}
		if msg == before {
			return msg
		}
	}
}

// notTLSMessage says that addr answered a TLS handshake with something
// else: a plaintext port.
func notTLSMessage(addr string) string {
	return fmt.Sprintf("%s does not speak TLS: it is a plaintext port (drop --tls and --cacert)", addr)
}

// certMessage says that addr's certificate could not be verified, and
// why, with what to do about it: the CA to trust for an unknown one
// (--cacert), but for a certificate a trusted CA signed that names
// another host, or is out of its dates, the server's certificate is at
// fault (or the dialled name, or this machine's clock), not --cacert.
func certMessage(addr, why string) string {
	hint := "--cacert FILE: the CA that signed it"
	switch {
	case strings.Contains(why, "cannot validate certificate for"), strings.Contains(why, "certificate is valid for"),
		strings.Contains(why, "certificate is not valid for any names"):
		hint = "the certificate does not name the host dialled: dial a name it holds, or give the server a certificate for this one"
	case strings.Contains(why, "has expired or is not yet valid"):
		hint = "the server's certificate is outside its dates: renew it, or check this machine's clock"
	}
	return fmt.Sprintf("cannot verify the certificate of %s: %s (%s)", addr, why, hint)
}

// alertMessage says what the TLS alert in msg (the server's "remote
// error: tls: ALERT"), sent by addr during the handshake, means for the
// client: most often that it refused the client certificate, certFile
// (empty: none given). What the client can tell of its own certificate
// (out of its dates, not for client use) is named; crypto/tls sends "expired
// certificate" for one not yet valid too.
func alertMessage(addr, msg, certFile string) string {
	_, alert, _ := strings.Cut(msg, "remote error: tls: ")
	alert, _, _ = strings.Cut(alert, `"`) // grpc-go quotes the cause
	if certFile == "" && alert == "certificate required" {
		return fmt.Sprintf("%s requires a client certificate (--cert and --key)", addr)
	}
	if certFile != "" {
		if why := clientCertProblem(certFile); why != "" {
			return fmt.Sprintf("%s refused the TLS handshake: %s: %s", addr, alert, why)
		}
		if alert == "certificate required" || alert == "unknown certificate authority" {
			// crypto/tls sends no certificate whose issuer is not one
			// of the CAs the server asked for: then it is "required".
			return fmt.Sprintf("%s refused the TLS handshake: %s: --cert %s is not signed by a CA the server trusts", addr, alert, certFile)
		}
		return fmt.Sprintf("%s refused the TLS handshake: %s (is --cert signed by the CA the server trusts?)", addr, alert)
	}
	return fmt.Sprintf("%s refused the TLS handshake: %s", addr, alert)
}

// clientCertProblem says what is wrong with the client certificate in
// certFile that the client can see itself: out of its dates, or not for
// client authentication. It is "" when nothing is, or the file cannot be
// read again.
func clientCertProblem(certFile string) string {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return ""
	}
	block, rest := pem.Decode(data)
	for block != nil && block.Type != "CERTIFICATE" {
		block, rest = pem.Decode(rest)
	}
	if block == nil {
		return ""
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return ""
	}
	now := time.Now()
	switch {
	case now.After(cert.NotAfter):
		return fmt.Sprintf("--cert %s expired at %s", certFile, cert.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(cert.NotBefore):
		return fmt.Sprintf("--cert %s is not valid before %s (or this machine's clock is behind)", certFile, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	if len(cert.ExtKeyUsage) > 0 && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageAny) {
		return fmt.Sprintf("--cert %s is not for client authentication (its extended key usage lacks clientAuth)", certFile)
	}
	return ""
}

// tlsPortError is a plaintext call to a port that speaks TLS.
type tlsPortError struct{ addr string }

func (e *tlsPortError) Error() string {
	return fmt.Sprintf("%s speaks TLS (add --tls, or --cacert FILE to verify it with your CA)", e.addr)
}

// oneAddress reports whether addr is one HOST:PORT (not a list, not a
// gRPC target URI): the only kind a probe can name.
func oneAddress(addr string) bool {
	_, _, err := net.SplitHostPort(addr)
	return err == nil && !strings.Contains(addr, ",")
}

// portKind is what probePort found at an address.
type portKind int

const (
	portUnknown portKind = iota
	portHTTP2            // a gRPC server: it greets with an HTTP/2 SETTINGS frame
	portTLS              // a TLS server: it answers a ClientHello
)

// probePort connects to addr and offers it a TLS handshake, the probe
// only (nothing else is sent and the server's certificate is not
// trusted for anything): a TLS server answers it, a gRPC server greets
// any new connection with an HTTP/2 SETTINGS frame, which the handshake
// reads as its first record, and a halfclose raw-TCP port says nothing
// (or an error line) until the probe gives up.
func probePort(addr string) portKind {
	c, err := net.DialTimeout("tcp", addr, probeWait)
	if err != nil {
		return portUnknown
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeWait))
	host, _, _ := net.SplitHostPort(addr)
	err = tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: host}).Handshake()
	var rh tls.RecordHeaderError
	switch {
	case err == nil, strings.Contains(err.Error(), "remote error: tls: "):
		return portTLS
	case errors.As(err, &rh) && validPrefix(rh.RecordHeader[:], true):
		return portHTTP2
	}
	return portUnknown
}

// tcpPortMessage starts the status halfclosed's raw-TCP command port sends
// to a gRPC client (server/tcp.go).
const tcpPortMessage = "halfclose raw-TCP port"

// resolveError says why addr's host does not resolve, naming it: gRPC's
// resolver only reports "produced zero addresses".
func resolveError(addr, flagName string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	why := "no addresses"
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		why = err.Error()
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) {
			why = dnsErr.Err
		}
	}
	return fmt.Sprintf("cannot resolve host %q (%s %s): %s", host, flagName, addr, why)
}

// wrongProtocolError is a raw-TCP reply that was a gRPC server's greeting.
type wrongProtocolError struct{ addr string }

func (e *wrongProtocolError) Error() string {
	return fmt.Sprintf("%s answered in HTTP/2: it is a gRPC port, not a raw-TCP port (drop --tcp and use --addr %s)", e.addr, e.addr)
}

// maxGreeting bounds what h2Guard holds back: a gRPC server's greeting
// (SETTINGS, WINDOW_UPDATE, maybe GOAWAY) is well under it.
const maxGreeting = 4 << 10

// h2Guard holds back the start of a raw-TCP reply while it could be what a
// gRPC server sends to a client that is not speaking HTTP/2: whole HTTP/2
// frames on stream 0, the first a SETTINGS frame. A halfclose reply that
// starts that way (a binary output could) is passed on once it stops
// looking like one, or at the end when it is not exactly such frames; a
// reply that is exactly a greeting becomes a wrongProtocolError instead of
// frames on the user's terminal.
type h2Guard struct {
	w       io.Writer
	addr    string
	probe   bool // probe addr when the run fails before output (plaintext only)
	held    []byte
	passing bool
}

// peerReset reports whether err is the peer resetting or closing the
// connection under us: what a gRPC server does to a client that does not
// speak HTTP/2. (A cancelled call is not probed: the user stopped it.)
func peerReset(err error) bool {
	return sockerr.Broken(err)
}

// cutShort reports whether a run that wrote nothing failed the way a
// gRPC server's answer to a raw-TCP client looks: a reset, or a close
// before the input ended (the greeting may be lost with the connection).
func cutShort(err error) bool {
	return peerReset(err) || errors.Is(err, client.ErrIncompleteReply)
}

// probeWait bounds the probe: a gRPC server's greeting comes at once.
const probeWait = 2 * time.Second

func (g *h2Guard) Write(p []byte) (int, error) {
	if g.passing {
		return g.w.Write(p)
	}
	g.held = append(g.held, p...)
	if _, ok := h2Frames(g.held); !ok || len(g.held) > maxGreeting {
		if err := g.release(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (g *h2Guard) release() error {
	g.passing = true
	held := g.held
	g.held = nil
	if len(held) == 0 {
		return nil
	}
	_, err := g.w.Write(held)
	return err
}

// finish ends the reply: runErr is what the run returned. A reply that was
// exactly a gRPC greeting is a wrongProtocolError whatever runErr is. A run
// that failed before any output (a gRPC server resets the connection after
// reading our first line, and the reset can discard its greeting) with a
// reset probes the address once (probePort): a gRPC server greets a new
// connection at once, a TLS port (a plaintext call to a halfclosed with
// --tls-cert closes as soon as the header line fails its handshake)
// answers a ClientHello, a halfclose port says nothing until it has a
// header (and logs the probe as a job with no header line).
func (g *h2Guard) finish(ctx context.Context, runErr error) error {
	if !g.passing && len(g.held) > 0 {
		if complete, ok := h2Frames(g.held); ok && complete {
			return &wrongProtocolError{addr: g.addr}
		}
	}
	if runErr != nil && !g.passing && g.probe && ctx.Err() == nil && cutShort(runErr) {
		switch probePort(g.addr) {
		case portHTTP2:
			return &wrongProtocolError{addr: g.addr}
		case portTLS:
			return &tlsPortError{addr: g.addr}
		}
	}
	if err := g.release(); err != nil && runErr == nil {
		return err
	}
	return runErr
}

// h2Frames reports whether b could be the start of a gRPC server's
// greeting (ok) and whether it is whole frames only (complete): HTTP/2
// frames on stream 0, the first SETTINGS, each SETTINGS, PING, GOAWAY or
// WINDOW_UPDATE with a length that type allows.
func h2Frames(b []byte) (complete, ok bool) {
	first := true
	for len(b) > 0 {
		if len(b) < 9 {
			return false, validPrefix(b, first)
		}
		length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		typ, stream := b[3], binary.BigEndian.Uint32(b[5:9])&0x7fffffff
		if stream != 0 || first && typ != 0x4 {
			return false, false
		}
		switch typ {
		case 0x4: // SETTINGS
			if length%6 != 0 {
				return false, false
			}
		case 0x6: // PING
			if length != 8 {
				return false, false
			}
		case 0x7: // GOAWAY
			if length < 8 {
				return false, false
			}
		case 0x8: // WINDOW_UPDATE
			if length != 4 {
				return false, false
			}
		default:
			return false, false
		}
		if length > maxGreeting {
			return false, false
		}
		first = false
		if len(b) < 9+length {
			return false, true
		}
		b = b[9+length:]
	}
	return !first, true
}

// validPrefix reports whether an incomplete frame header (under 9 bytes)
// can still become one h2Frames accepts.
func validPrefix(b []byte, first bool) bool {
	if b[0] != 0 { // lengths are under maxGreeting
		return false
	}
	if len(b) < 4 {
		return true
	}
	if first {
		return b[3] == 0x4
	}
	return b[3] == 0x4 || b[3] == 0x6 || b[3] == 0x7 || b[3] == 0x8
}
