// Package text holds the line and byte filters: sort, uniq, cut, tr, head,
// tail, tac, wc, base64, gzip/gunzip/zcat, each as GNU coreutils (C
// locale) reading stdin. Register adds them all to a compute.Registry.
// Counts and sizes are read with compute.XStrtoumax/XStrtoimax, GNU's
// number syntax for each tool.
//
// Each command has a file of its own (sort's --debug in sortdebug.go,
// tac's -r in tacregex.go: glibc's Emacs syntax on a byte DFA of our own,
// searched backward over GNU's blocks); what several share has a file of
// its own too:
//
//   - readloop.go: eachBlock, the read loop of the streaming filters;
//   - lines.go: lineReader, whole lines with a bounded buffer (sort, uniq);
//   - blockwriter.go: blockWriter, output gathered into large writes;
//   - chunkqueue.go: chunkQueue, a FIFO bounded in memory that spills to
//     disk (tac, tail, cut);
//   - ascii.go: byte classes.
//
// A stage that must see all of its input before writing (sort, tac, tail)
// keeps it within compute.Env's spool budget and spills past it.
package text
