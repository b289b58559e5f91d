//go:build !linux

package server

import (
	"io"
	"net"
	"syscall"
	"time"
)

// setRecvLowat does nothing here: SO_RCVLOWAT's wake-ups are Linux's.
func setRecvLowat(*net.TCPConn, int) bool { return false }

func recvQueued(*net.TCPConn) int { return 0 }

func sendQueued(*net.TCPConn) (int, bool) { return 0, false }

func newRawReader(*net.TCPConn) io.Reader { return nil }

func setUserTimeout(*net.TCPConn, time.Duration) {}

func newRawWriter(*net.TCPConn) io.Writer { return nil }

func closeWrite(c *net.TCPConn) error { return c.CloseWrite() }

// rawConnOf returns nil: raw system calls are Linux's here.
func rawConnOf(*net.TCPConn) syscall.RawConn { return nil }

func rawReaderOf(syscall.RawConn) io.Reader { return nil }

func rawReaderArmed(syscall.RawConn, waitArmer) io.Reader { return nil }

func rawWriterOf(syscall.RawConn) io.Writer { return nil }

func closeWriteRaw(c *net.TCPConn, _ syscall.RawConn) error { return c.CloseWrite() }
