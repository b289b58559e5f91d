// Package compute is the contract of halfclose's core: what a command is
// and what a running one may use. It holds no command and no engine.
//
// The flow, one package a step:
//
//	server (gRPC, raw TCP) → compute/engine → Stage.Run → compute/spool → reply
//
// An adapter in server/ turns a request stream into an io.Reader whose
// io.EOF is the half-close and hands it to an engine.Engine
// (compute/engine). The engine compiles the pipeline text against a
// Registry into Stages, runs them connected by pipes, and holds their
// output in a spool.Spool (compute/spool) until the input has ended; only
// then does the reply flow to the adapter. The commands themselves live by
// family in compute/digest, compute/grep and compute/text, and
// compute/builtin is the one list of them all.
//
// This package owns:
//
//   - Stage and StageFunc, the running command; Command, how a pipeline
//     word builds one; ErrDownstreamDone, a pipeline's SIGPIPE;
//   - Registry, a set of commands passed by value to whoever compiles
//     pipelines (no global registry: tests build their own);
//   - FlagSpec and ParseFlags, GNU getopt_long parsing shared by every
//     command;
//   - Env, SpoolConfig and DiskBudget, the memory and spill-file budgets a
//     stage may use;
//   - Error and its Codes, the typed errors that each adapter maps to its
//     own status in one place.
package compute
