package digest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"hash/crc32"
	"strconv"

	"github.com/zeebo/xxh3"
	"golang.org/x/crypto/blake2b"
)

// Algo is one digest algorithm: everything the Digest RPC, the digest
// commands, the metrics and the CLI know of it. A new algorithm is one row
// of algos (and a value of the proto's Algorithm enum).
type Algo struct {
	// Name is how the core names it, e.g. "sha256": the key of
	// DigestJob.Expected and of cksum -a.
	Name string
	// Proto is the name of its value of the API's Algorithm enum, e.g.
	// "ALGORITHM_SHA256".
	Proto string
	// Command is the command that prints the same digest, e.g. "sha256sum":
	// the client uploads its FILE operands itself, and a Digest job of this
	// algorithm alone counts under this command in the metrics.
	Command string
	// Tag is the name in GNU's --tag output, e.g. "SHA256"; "" for the
	// commands that have no --tag.
	Tag string
	// Size is the digest length in bytes; its hex is twice as wide.
	Size int
	// New returns a fresh hash.
	New func() hash.Hash

	style   cmdStyle // how Command parses its flags and prints
	summary string   // Command's one line for Capabilities
}

// cmdStyle is the family of an algorithm's command.
type cmdStyle int

const (
	styleGNU   cmdStyle = iota // md5sum ... sha512sum, b2sum: GNU coreutils
	styleCksum                 // cksum: GNU cksum 9.1
	styleB3                    // b3sum: the b3sum tool
	styleHex                   // crc32c, xxh3: "HEX  -"
)

var algos = []*Algo{
	{Name: "md5", Proto: "ALGORITHM_MD5", Command: "md5sum", Tag: "MD5", Size: md5.Size, New: md5.New,
		summary: "print the MD5 digest of the input, as GNU md5sum"},
	{Name: "sha1", Proto: "ALGORITHM_SHA1", Command: "sha1sum", Tag: "SHA1", Size: sha1.Size, New: sha1.New,
		summary: "print the SHA1 digest of the input, as GNU sha1sum"},
	{Name: "sha224", Proto: "ALGORITHM_SHA224", Command: "sha224sum", Tag: "SHA224", Size: sha256.Size224, New: sha256.New224,
		summary: "print the SHA224 digest of the input, as GNU sha224sum"},
	{Name: "sha256", Proto: "ALGORITHM_SHA256", Command: "sha256sum", Tag: "SHA256", Size: sha256.Size, New: sha256.New,
		summary: "print the SHA256 digest of the input, as GNU sha256sum"},
	{Name: "sha384", Proto: "ALGORITHM_SHA384", Command: "sha384sum", Tag: "SHA384", Size: sha512.Size384, New: sha512.New384,
		summary: "print the SHA384 digest of the input, as GNU sha384sum"},
	{Name: "sha512", Proto: "ALGORITHM_SHA512", Command: "sha512sum", Tag: "SHA512", Size: sha512.Size, New: sha512.New,
		summary: "print the SHA512 digest of the input, as GNU sha512sum"},
	{Name: "blake2b", Proto: "ALGORITHM_BLAKE2B", Command: "b2sum", Tag: "BLAKE2b", Size: blake2b.Size, New: func() hash.Hash { return newBlake2b(blake2b.Size) },
		summary: "print the BLAKE2b digest of the input, as GNU b2sum"},
	{Name: "blake3", Proto: "ALGORITHM_BLAKE3", Command: "b3sum", Size: 32, New: func() hash.Hash { return newParallelBlake3() },
		style: styleB3, summary: "print the BLAKE3 digest of the input, as the b3sum tool"},
	{Name: "cksum", Proto: "ALGORITHM_CKSUM", Command: "cksum", Size: 4, New: func() hash.Hash { return new(posixCRC) },
		style: styleCksum, summary: "print the POSIX CRC and size of the input, or another digest with -a, as GNU cksum 9.1"},
	{Name: "crc32c", Proto: "ALGORITHM_CRC32C", Command: "crc32c", Size: 4, New: func() hash.Hash { return crc32.New(castagnoli) },
		style: styleHex, summary: "print the CRC-32C (Castagnoli) of the input as 8 hex digits: HEX  -"},
	{Name: "xxh3", Proto: "ALGORITHM_XXH3", Command: "xxh3", Size: 8, New: func() hash.Hash { return xxh3.New() },
		style: styleHex, summary: "print the XXH3-64 hash of the input as 16 hex digits: HEX  -"},
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// newBlake2b returns unkeyed BLAKE2b with a size-byte digest. The digest
// length is part of BLAKE2b's parameter block, so BLAKE2b-256 is not a
// truncated BLAKE2b-512 (b2sum -l 256 relies on this).
func newBlake2b(size int) hash.Hash {
	h, err := blake2b.New(size, nil)
	if err != nil {
		panic("digest: blake2b size " + strconv.Itoa(size)) // sizes are checked by callers
	}
	return h
}

// Lookup returns the algorithm called name.
func Lookup(name string) (*Algo, bool) {
	return find(func(a *Algo) bool { return a.Name == name })
}

// ByProto returns the algorithm of the API enum value called proto, e.g.
// "ALGORITHM_SHA256".
func ByProto(proto string) (*Algo, bool) {
	return find(func(a *Algo) bool { return a.Proto == proto })
}

// ByCommand returns the algorithm whose command is cmd, e.g. "sha256sum".
func ByCommand(cmd string) (*Algo, bool) {
	return find(func(a *Algo) bool { return a.Command == cmd })
}

func find(match func(*Algo) bool) (*Algo, bool) {
	for _, a := range algos {
		if match(a) {
			return a, true
		}
	}
	return nil, false
}

// Algos returns every algorithm, in a stable order.
func Algos() []*Algo {
	return append([]*Algo(nil), algos...)
}
