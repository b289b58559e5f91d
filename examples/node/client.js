#!/usr/bin/env node
// A small halfclose client: Digest and Run over gRPC, with the end proved.
//
//   node client.js [--addr HOST:PORT] [--timeout SECONDS] digest [-a ALGO] FILE...
//   node client.js [--addr HOST:PORT] [--timeout SECONDS] run PIPELINE < in > out
//
// Every call sets require_end and sends an End message (byte count, and the
// client's own digest when node:crypto has the algorithm) just before it
// half-closes. grpc-js's cancel() and deadline send END_STREAM before their
// RST_STREAM; without the proof the server would take that for the end of
// the input. With it, the server treats such a stream as an abort, so a
// cancel never yields a result from partial input. Ctrl-C cancels the call
// and exits 130; --timeout sets a deadline.
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
      done(null, { end: endProof(size) });
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

// digest uploads one file and returns its hex digest, checked against
// node:crypto when it has the algorithm.
async function digest(client, name, input, timeout) {
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
  const reply = new Promise((resolve, reject) => {
    current = client.Digest(callOptions(timeout), (err, resp) => {
      if (err) input.destroy(); // stop reading: the call is over
      return err ? reject(err) : resolve(resp);
    });
  });
  const header = { header: { algorithms: [algorithm], require_end: true } };
  const [sent, resp] = await both(current, upload(current, header, input, (b) => local && local.update(b), endProof), reply);
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
async function run(client, pipelineText, timeout) {
  const input = stdin();
  const call = client.Run(callOptions(timeout));
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

function onSignal() {
  interrupted = true;
  if (current) current.cancel(); // RST_STREAM, with no End before it: an abort
  stdinStream.destroy();
}

async function main() {
  const { values, positionals } = parseArgs({
    options: {
      addr: { type: 'string', default: process.env.HALFCLOSE_ADDR || '127.0.0.1:50051' },
      timeout: { type: 'string' },
      algorithm: { type: 'string', short: 'a', default: 'sha256' },
    },
    allowPositionals: true,
  });
  const [cmd, ...rest] = positionals;
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (!['digest', 'run'].includes(cmd) || (cmd === 'run' && rest.length !== 1) || !Object.hasOwn(ALGORITHMS, values.algorithm) || Number.isNaN(timeout)) {
    console.error('usage: client.js [--addr HOST:PORT] [--timeout SECONDS] digest [-a ALGO] FILE... | run PIPELINE');
    console.error('algorithms: ' + Object.keys(ALGORITHMS).join(' '));
    return 2;
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const client = new ComputeService(values.addr, grpc.credentials.createInsecure());
  try {
    if (cmd === 'run') {
      // the pipeline's exit status, as ssh passes on a command's
      return Math.min(await run(client, rest[0], timeout), 255);
    }
    let status = 0;
    for (const name of rest.length ? rest : ['-']) {
      try {
        // Open before the call starts, so a missing file never starts one.
        const input = name === '-' ? stdin() : (await fs.promises.open(name)).createReadStream({ highWaterMark: CHUNK });
        process.stdout.write(`${await digest(client, values.algorithm, input, timeout)}  ${name}\n`);
      } catch (err) {
        if (!err.syscall) throw err; // not a file error: the call failed
        console.error(`client.js: ${name}: ${err.message}`);
        status = 1;
      }
    }
    return status;
  } catch (err) {
    if (interrupted) {
      console.error('client.js: interrupted: call cancelled');
      return 130;
    }
    if (err instanceof IncompleteReply) {
      console.error(`client.js: incomplete reply: ${err.message}`);
    } else if (err.code !== undefined && err.details !== undefined) {
      const code = Object.keys(grpc.status).find((k) => grpc.status[k] === err.code);
      console.error(`client.js: ${code}: ${err.details}`);
    } else {
      console.error(`client.js: ${err.message}`);
    }
    return 1;
  } finally {
    client.close();
  }
}

main().then((code) => {
  process.exitCode = code;
});
