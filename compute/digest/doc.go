// Package digest is everything halfclose knows of digest algorithms: the
// one table of them (Algo: the core's name, the API enum value, the command
// that prints it, its GNU tag, its size, its constructor), MultiHash, which
// computes several in one pass, and the digest commands (md5sum ...
// sha512sum, b2sum, b3sum, cksum, sum, crc32c, xxh3), byte for byte as the GNU
// tools (or b3sum) reading stdin.
//
// The server maps the API's algorithms with ByProto, the metrics label a
// Digest job with Algo.Command, the CLI finds the commands whose FILE
// operands it uploads itself with IsCommand (ByCommand's, and sum), and
// Register adds the commands to a compute.Registry. A new algorithm is one row of the table.
//
// A digest command's stage hashes its input as it flows and prints one line
// at end of input; operands other than "-" are refused (a server opens no
// files).
package digest
