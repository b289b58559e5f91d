#!/usr/bin/env node
// A small halfclose client: Digest and Run over gRPC, with the end proved.
//
//   node client.js [--addr HOST:PORT] [--timeout SECONDS] [TLS...] digest [-a ALGO] FILE...
//   node client.js [--addr HOST:PORT] [--timeout SECONDS] [TLS...] run PIPELINE < in > out
//
// TLS...: --tls, --cacert FILE, --cert FILE --key FILE, --token-file FILE,
// as the Go CLI (halfclose) takes them.
//
// Every call sets require_end and sends an End message (byte count, and the
// client's own digest when node:crypto has the algorithm) just before it
// half-closes. grpc-js's cancel() and deadline send END_STREAM before their
// RST_STREAM; without the proof the server would take that for the end of
// the input. With it, the server treats such a stream as an abort, so a
// cancel never yields a result from partial input. Ctrl-C cancels the call
// and exits 130; --timeout sets a deadline. --tls (or --cacert, or --cert)
// connects with TLS, and --token-file sends the token as
// "authorization: Bearer TOKEN" metadata on every call.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.join(__dirname, '..', '..', 'proto', 'halfclose', 'v1', 'compute.proto');
const CHUNK = 64 * 1024; // well under the 4 MiB default message limit

// The loader options decide what messages look like in JavaScript:
const definition = protoLoader.loadSync(PROTO, {
  keepCase: true, // field names as in the .proto (require_end, input_bytes), not camelCase
  longs: String, // int64 as a decimal string, exact past 2^53 (as in proto3 JSON)
  enums: String, // enum values by name ('ALGORITHM_SHA256'), not number
  oneofs: true, // a virtual field names the oneof member that is set: m.message === 'summary'
  defaults: true, // zero values present: an empty input's size is '0', not undefined
});
const { ComputeService } = grpc.loadPackageDefinition(definition).halfclose.v1;

// Algorithm names on the command line, and the node:crypto twin of each
// (null: node has none, the End message then carries the size only).
const ALGORITHMS = {
  md5: 'md5', sha1: 'sha1', sha224: 'sha224', sha256: 'sha256', sha384: 'sha384',
  sha512: 'sha512', blake2b: 'blake2b512', blake3: null, cksum: null, crc32c: null, xxh3: null,
};

class IncompleteReply extends Error {}
class UsageError extends Error {} // a TLS or token file that cannot be used: exit 2, nothing sent

// current is the call in progress, cancelled by Ctrl-C or SIGTERM.
let current = null;
let interrupted = false;

// upload writes the header, then the input as data chunks, then the End
// proof, and half-closes. pipeline() waits whenever call.write() says the
// call's buffer is full, so a fast file never piles up in memory. The End
// message is pushed by flush(), which runs only once the input has ended:
// an input error or a cancel never sends it.
async function upload(call, header, input, onChunk, endProof) {
  let size = 0;
  const requests = new Transform({
    readableObjectMode: true,
    transform(chunk, _enc, done) {
      size += chunk.length;
      onChunk(chunk);
      done(null, { data: chunk });
    },
    flush(done) {
      // An EOF that comes with a signal is no end: Ctrl-C on
      // `producer | client.js` kills the producer too, and its pipe's EOF
      // was handled before the SIGINT in the same turn of the event loop
      // (the End went out, and the server computed a result over a part
      // of the input, 2 times in 4). libuv hands a signal to the loop
      // through a pipe its handler writes to at once, so a signal that
      // came before the EOF is seen in the next poll phase: the End waits
      // for it, past two check phases (microseconds).
      setImmediate(() => setImmediate(() => {
        if (interrupted) done(new Error('interrupted'));
        else done(null, { end: endProof(size) });
      }));
    },
  });
  call.write(header);
  try {
    await pipeline(input, requests, call); // ends with call.end(): the half-close
  } catch (err) {
    // An input error must not look like an end: cancel. A premature close
    // is no input error but the call ending first (a deadline, a status,
    // a cancel: the reply's handler destroys the input), whose status is
    // the error to report.
    if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') call.inputFailed = true;
    call.cancel();
    throw err;
  }
  return size;
}

// both waits for the upload and the reply. A failed call fails the upload
// too, so the call's status is the error to report, except for the
// CANCELLED that upload() itself caused after an input error. (A deadline
// may also end as CANCELLED: grpc-go's timer resets the stream.)
async function both(call, sending, reply) {
  const [s, r] = await Promise.allSettled([sending, reply]);
  if (s.status === 'rejected' && (r.status === 'fulfilled' || call.inputFailed)) throw s.reason;
  if (r.status === 'rejected') throw r.reason;
  return [s.value, r.value];
}

function callOptions(timeout) {
  return timeout === undefined ? {} : { deadline: Date.now() + timeout * 1000 };
}

// readFile returns what the file of flag holds, as a UsageError if it cannot.
function readFile(flag, file) {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${err.message}`);
  }
}

// readToken returns the first line of file that is not blank or a #
// comment: the server's --auth-token-file format (a byte order mark, CRLF
// and surrounding spaces dropped), so one file serves both ends.
function readToken(file) {
  const text = readFile('--token-file', file).toString('utf8').replace(/^\uFEFF/, '');
  const tok = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (tok === undefined) throw new UsageError(`--token-file ${file}: empty token`);
  // What halfclosed refuses in its token file (gRPC metadata cannot carry
  // it); the message never repeats the token.
  if (/[ \t\v\f\r]/.test(tok)) throw new UsageError(`--token-file ${file}: the token contains white space`);
  if (/[^\x21-\x7e]/.test(tok)) {
    throw new UsageError(`--token-file ${file}: the token contains a character that is not printable ASCII (gRPC metadata cannot carry it)`);
  }
  return tok;
}

// credentials returns the channel credentials: TLS when --tls, --cacert or
// --cert asks (without --cacert, verified with Node's CAs), else none.
function credentials(values) {
  if (!(values.tls || values.cacert || values.cert)) return grpc.credentials.createInsecure();
  const pem = (flag) => {
    if (values[flag] === undefined) return null;
    const data = readFile(`--${flag}`, values[flag]);
    if (!data.includes('-----BEGIN ')) throw new UsageError(`--${flag} ${values[flag]}: no PEM data`);
    return data;
  };
  // grpc-js sends the host as the TLS server name even when it is an IP
  // address (127.0.0.1), which Node warns against (DEP0123) on each call;
  // the certificate is still checked against the IP address.
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning, ...rest) => {
    if (!rest.includes('DEP0123')) emitWarning.call(process, warning, ...rest);
  };
  return grpc.credentials.createSsl(pem('cacert'), pem('key'), pem('cert'));
}

// digest uploads one file and returns its hex digest, checked against
// node:crypto when it has the algorithm.
async function digest(client, name, input, metadata, timeout) {
  const algorithm = 'ALGORITHM_' + name.toUpperCase();
  const local = ALGORITHMS[name] ? crypto.createHash(ALGORITHMS[name]) : null;
  let localRaw = null;
  const endProof = (size) => {
    const end = { size, digests: [] };
    if (local) {
      localRaw = local.digest();
      end.digests.push({ algorithm, raw: localRaw });
    }
    return end;
  };
  let call = null;
  const reply = new Promise((resolve, reject) => {
    call = client.Digest(metadata, callOptions(timeout), (err, resp) => {
      if (err) {
        // The call is over: stop reading the input, and close the call's
        // stream. grpc-js drops the writes still pending and never
        // emits 'finish': a whole input already read and half-closed left
        // pipeline() waiting forever, and Node exited 0 with nothing said
        // once its event loop was empty.
        input.destroy();
        call.destroy();
      }
      return err ? reject(err) : resolve(resp);
    });
  });
  current = call;
  const header = { header: { algorithms: [algorithm], require_end: true } };
  const [sent, resp] = await both(call, upload(call, header, input, (b) => local && local.update(b), endProof), reply);
  if (BigInt(resp.size) !== BigInt(sent) || resp.digests.length !== 1) {
    throw new IncompleteReply(`server hashed ${resp.size} bytes, ${sent} were sent`);
  }
  const got = resp.digests[0].hex;
  if (localRaw && got !== localRaw.toString('hex')) {
    throw new IncompleteReply(`server digest ${got} differs from node:crypto's ${localRaw.toString('hex')}`);
  }
  return got;
}

// run uploads stdin to pipeline and copies the output to stdout as it
// arrives. The reply is complete only when it ends with a summary; its
// exit status is the pipeline's.
async function run(client, pipelineText, metadata, timeout) {
  const input = stdin();
  const call = client.Run(metadata, callOptions(timeout));
  current = call;
  let summary = null;
  const reply = new Promise((resolve, reject) => {
    call.on('data', (m) => {
      if (m.message === 'summary') {
        summary = m.summary;
        return;
      }
      if (!process.stdout.write(m.output)) {
        // stdout is full: stop reading, and HTTP/2 flow control holds the
        // server back until the reader of stdout catches up.
        call.pause();
        process.stdout.once('drain', () => call.resume());
      }
    });
    call.on('error', reject); // any status but OK, whatever output came before
    call.on('end', () => (summary ? resolve(summary) : reject(new IncompleteReply('reply ended without a summary'))));
  });
  const header = { header: { pipeline: pipelineText, require_end: true } };
  const [sent, sum] = await both(call, upload(call, header, input, () => {}, (size) => ({ size })), reply);
  if (BigInt(sum.input_bytes) !== BigInt(sent)) {
    throw new IncompleteReply(`server read ${sum.input_bytes} bytes, ${sent} were sent`);
  }
  // What the commands wrote on stderr (sort -c's disorder line).
  for (const line of sum.diagnostics || []) process.stderr.write(`${line}\n`);
  return sum.exit_status; // the pipeline's (grep that selected no line: 1)
}

// stdin returns the standard input as a stream whose read errors reach
// upload(). Node makes process.stdin an empty stream, with no error, when
// descriptor 0 is of a kind libuv does not know: a directory (`< dir`), a
// block device. Uploaded, that empty input was answered with a result, the
// digest of nothing, for input never read. Such a descriptor is read as a
// file instead: a directory's read fails (EISDIR) and the call is
// cancelled; a device's bytes are read.
let stdinStream = process.stdin; // what onSignal stops reading
function stdin() {
  const st = fs.fstatSync(0);
  if (!(st.isFile() || st.isCharacterDevice() || st.isFIFO() || st.isSocket())) {
    stdinStream = fs.createReadStream(null, { fd: 0, autoClose: false, highWaterMark: CHUNK });
  }
  return stdinStream;
}

// stdoutError is a failed write to stdout (EPIPE: its reader is gone).
// Without this listener Node threw it as an unhandled 'error' event: a
// stack trace and exit 1. The call in progress is cancelled (no End), the
// error said once, and the exit status is 1, as the Python client's.
let stdoutError = null;
function onStdoutError(err) {
  if (stdoutError) return;
  stdoutError = err;
  if (current) current.cancel();
  stdinStream.destroy();
  console.error(`client.js: stdout: ${err.message}`);
  process.exitCode = 1;
}

function onSignal() {
  interrupted = true;
  if (current) current.cancel(); // RST_STREAM, with no End before it: an abort
  stdinStream.destroy();
}

// tlsHint says what to try when a call failed for want of TLS, or of a
// client certificate.
function tlsHint(details, values) {
  if (!(values.tls || values.cacert || values.cert)) return '';
  if (details.includes('wrong version number')) return ' (the port may not speak TLS: drop --tls and --cacert)';
  if (details.includes('certificate required') && !values.cert) return ' (the server wants a client certificate: --cert and --key)';
  if (values.cert && /alert (certificate expired|bad certificate|unknown ca|certificate required|unsupported certificate)/.test(details)) {
    return ' (the server refused the client certificate: is --cert signed by the CA it trusts, within its dates, for client use?)';
  }
  return '';
}

const USAGE = 'usage: client.js [--addr HOST:PORT] [--timeout SECONDS] [--tls] [--cacert FILE] [--cert FILE --key FILE] [--token-file FILE] digest [-a ALGO] FILE... | run PIPELINE';

async function main() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        // The Go CLI's variable; HALFCLOSE_ADDR is the name this example read first.
        addr: { type: 'string', default: process.env.HALFCLOSE_CLIENT_ADDR || process.env.HALFCLOSE_ADDR || '127.0.0.1:50051' },
        timeout: { type: 'string' },
        tls: { type: 'boolean', default: false },
        cacert: { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'token-file': { type: 'string' },
        algorithm: { type: 'string', short: 'a', default: 'sha256' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: true,
    });
  } catch (err) {
    // An unknown flag, or one missing its value: say which, as a usage
    // error (exit 2), not a stack trace.
    console.error(`client.js: ${err.message}`);
    console.error(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    console.log('algorithms: ' + Object.keys(ALGORITHMS).join(' '));
    return 0;
  }
  const [cmd, ...rest] = positionals;
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (!['digest', 'run'].includes(cmd) || (cmd === 'run' && rest.length !== 1) || !Object.hasOwn(ALGORITHMS, values.algorithm) || Number.isNaN(timeout) || (values.cert === undefined) !== (values.key === undefined)) {
    console.error(USAGE);
    console.error('algorithms: ' + Object.keys(ALGORITHMS).join(' '));
    return 2;
  }
  const metadata = new grpc.Metadata();
  let creds;
  try {
    if (values['token-file'] !== undefined) metadata.set('authorization', `Bearer ${readToken(values['token-file'])}`);
    creds = credentials(values);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`client.js: ${err.message}`);
    return 2;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.stdout.on('error', onStdoutError);
  const client = new ComputeService(values.addr, creds);
  try {
    if (cmd === 'run') {
      // the pipeline's exit status, as ssh passes on a command's
      return Math.min(await run(client, rest[0], metadata, timeout), 255);
    }
    let status = 0;
    for (const name of rest.length ? rest : ['-']) {
      if (stdoutError) return 1;
      try {
        // Open before the call starts, so a missing file never starts one.
        const input = name === '-' ? stdin() : (await fs.promises.open(name)).createReadStream({ highWaterMark: CHUNK });
        process.stdout.write(`${await digest(client, values.algorithm, input, metadata, timeout)}  ${name}\n`);
      } catch (err) {
        if (!err.syscall) throw err; // not a file error: the call failed
        console.error(`client.js: ${name}: ${err.message}`);
        status = 1;
      }
    }
    return status;
  } catch (err) {
    if (stdoutError) return 1; // said by onStdoutError
    if (interrupted) {
      console.error('client.js: interrupted: call cancelled');
      return 130;
    }
    if (err instanceof IncompleteReply) {
      console.error(`client.js: incomplete reply: ${err.message}`);
    } else if (err.code !== undefined && err.details !== undefined) {
      const code = Object.keys(grpc.status).find((k) => grpc.status[k] === err.code);
      // One line: a TLS error's details carry OpenSSL's newline, and an
      // empty "Resolution note:" at the end.
      const details = err.details.replace(/\s*\n\s*/g, ' ').replace(/\.? Resolution note: ?$/, '').trim();
      console.error(`client.js: ${code}: ${details}${tlsHint(details, values)}`);
    } else {
      console.error(`client.js: ${err.message}`);
    }
    return 1;
  } finally {
    client.close();
  }
}

main().then((code) => {
  process.exitCode = stdoutError ? 1 : code;
});
