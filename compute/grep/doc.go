// Package grep is the grep command: GNU grep 3.8 reading stdin with
// LC_ALL=C, on Go's RE2 (the differences are in grep.go and
// docs/protocol.md).
//
// A pattern flows through the files in this order:
//
//   - grep.go: the command, its flags, and the compiled stage;
//   - translate.go: a BRE or ERE turned into RE2 syntax text;
//   - perl.go: a -P pattern (PCRE2's syntax) turned into RE2 syntax text,
//     or refused naming the construct RE2 cannot run as PCRE2 does, and
//     GNU's -w/-x wrappers for it (matched leftmost-first, Perl's way);
//   - match.go: the RE2 tree fixed for bytes and -i/-w/-x, compiled to the
//     matcher; per-line matching;
//   - glibcdup.go: the -o patterns refused because glibc regex, which
//     GNU's -o follows, gets their assertions wrong;
//   - literal.go and litseq.go: the fast paths chosen at compile time — a
//     literal prefilter (litSet), a fixed-length byte-class sequence
//     (seqMatcher), and a sequence of literals (litSeq);
//   - kwset.go: a list of literals (GNU's -F matcher's keywords, from
//     kwSetMin of them) searched with an Aho-Corasick automaton instead
//     of a regexp, for every flag, charged to the budget by its trie
//     nodes;
//   - fold.go: the -i search for a long literal in text that is not
//     lower-cased (foldFinder);
//   - pair.go: how each literal is searched for, chosen on a sample of
//     the input (planFinder): bytes.Index, bytes.IndexByte on its rarest
//     byte, or two of its bytes tested eight positions to a word
//     (indexPair) when every byte of it is common;
//   - search.go: the read loop, over GNU's reads for binary detection
//     (blocks.go models them),
//     the prefilter choice (the rarest literal, and each literal's rarest
//     byte, by a sample of the input) and the search for the next
//     matching line: the whole text is searched for candidates, and only
//     a candidate's line is bounded and checked;
//   - every.go: patterns that match in every line (the empty one, ^, x*),
//     whose lines are selected without the regexp, and the regexp's
//     search for the next line where no literal leads it (findWindowed);
//   - litloop.go: that search for one literal in one loop per text, in
//     the common cases where a selected line is only counted or written
//     (-c, no flag, -v);
//   - print.go: selected lines, counts, -n and -o output (-o of a literal
//     without a regexp);
//   - context.go: context lines (-A, -B, -C), a branch taken only when
//     they were asked for, and the before-context held (spilling past
//     the spool's memory);
//   - benchlog.go: the log text the benchmarks and make bench grep.
//   - encoding.go: the byte encodings they share (ASCII lower-casing,
//     widening bytes >= 0x80 for RE2).
package grep
