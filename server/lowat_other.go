//go:build !linux

package server

import (
	"io"
	"net"
	"syscall"
	"time"
)

// setRecvLowat does nothing here: SO_RCVLOWAT's wake-ups are Linux's.
func setRecvLowat(tcpConn, int) bool { return false }

func recvQueued(tcpConn) int { return 0 }

func sendQueued(tcpConn) (int, bool) { return 0, false }

func newRawReader(tcpConn) io.Reader { return nil }

func setUserTimeout(*net.TCPConn, time.Duration) {}

func newRawWriter(tcpConn) io.Writer { return nil }

func closeWrite(c tcpConn) error { return c.CloseWrite() }

// rawConnOf returns nil: raw system calls are Linux's here.
func rawConnOf(tcpConn) syscall.RawConn { return nil }

func rawReaderOf(syscall.RawConn) io.Reader { return nil }

func rawReaderArmed(syscall.RawConn, waitArmer) io.Reader { return nil }

func rawWriterOf(syscall.RawConn) io.Writer { return nil }

func closeWriteRaw(c tcpConn, _ syscall.RawConn) error { return endReply(c) }
