// Package engine runs jobs: a pipeline over one input, or the digests of one
// input. It knows nothing of the transport that feeds it.
//
// The flow of a Run job: an adapter passes the pipeline text to Compile,
// which splits it as POSIX sh quotes words (SplitPipeline; there is no
// shell) and builds each stage from the commands of the engine's
// compute.Registry. Acquire takes one of the engine's job slots. Run wraps
// the source in an Input (byte count, input limit, end-of-input signal),
// runs the stages concurrently joined by pipes (Pipeline.Run), and writes
// their output into a spool.Spool, released to the adapter's writer only
// once the Input has ended: a job that fails earlier has written nothing.
// A job of one stage with a small bound on its output (at most 64 KiB
// and the spool's memory; compute.BoundedStage: the digest commands)
// runs on Run's goroutine instead, its output held in a buffer of that
// bound.
//
// A Digest job (Engine.Digest) hashes the Input with every requested
// digest.Algo in one pass (digest.MultiHash) and checks the declared size
// and digests at the end of input.
package engine
