//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/halfclose/halfclose/internal/leakcheck"
)

func TestMain(m *testing.M) {
	if os.Getenv(burnEnv) != "" {
		// A child of TestChildCPU: burn, say what the kernel counted.
		fmt.Println(int64(burn(burnCPU)))
		os.Exit(0)
	}
	if nc := os.Getenv(orphanEnv); nc != "" {
		// A child of TestNoNCOutlivesUs: start nc -l holding fd 3, say
		// its pid, wait to be killed.
		cmd := command(context.Background(), nc, "-l", "127.0.0.1", "0")
		cmd.ExtraFiles = []*os.File{os.NewFile(3, "sync")}
		if err := cmd.Start(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, leakcheck.Options()...)
}
