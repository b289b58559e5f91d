// Package server holds halfclose's adapters, which put the compute engine
// on the network, and what an operator needs around them.
//
// A job flows the same way on both adapters:
//
//   - the adapter reads the request: a gRPC header message (grpc.go) or a
//     TCP header line and its @options (tcp.go, tcpproof.go);
//   - the job lifecycle (job.go) compiles it, takes a slot of the engine,
//     records the job (log line, metrics observer) and runs it;
//   - the input arrives through one receive-ahead reader (recvahead.go),
//     fed by gRPC messages (with their End proof, endproof.go) or by the
//     connection (with its @size/@chunked proof);
//   - the error classification (errors.go) turns how the job ended into a
//     gRPC code and a client message: a status on gRPC, the line
//     "halfclose: error: CODE: message" on TCP.
//
// Around them: TLS (tlsconfig.go), bearer tokens (auth.go), per-peer rate
// limits (ratelimit*.go), interceptors (interceptors.go), metrics
// (metrics.go, observer.go) and the HTTP endpoints (httpserver.go).
package server
