package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tour's namespaces are Linux's: elsewhere the tour runs on the
// machine's loopback (tour_ns_other_test.go).

// errNoNamespaces: the system cannot start the tour in namespaces of its own.
var errNoNamespaces = errors.New("no user namespaces")

// enterTourNamespace sets up the namespaces the child was started in:
// loopback up, /tmp a fresh tmpfs. TestMain calls it before anything uses
// /tmp. It does nothing in an ordinary run.
func enterTourNamespace() error {
	if os.Getenv(tourNSEnv) == "" {
		return nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mounts: %w", err)
	}
	// The checkout and the binaries may live under /tmp (a CI clone):
	// keep them in sight through the fresh tmpfs, bound back where they
	// were from descriptors opened before it hides them.
	var keep []string
	if root, err := filepath.Abs(".."); err == nil {
		keep = append(keep, root)
	}
	if d := os.Getenv("E2E_BIN_DIR"); d != "" {
		keep = append(keep, d)
	}
	var fds []int
	var dirs []string
	for _, d := range keep {
		if d != "/tmp" && !strings.HasPrefix(d, "/tmp/") {
			continue
		}
		fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("keep %s: %w", d, err)
		}
		defer unix.Close(fd)
		fds, dirs = append(fds, fd), append(dirs, d)
	}
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777"); err != nil {
		return fmt.Errorf("tmpfs on /tmp: %w", err)
	}
	for i, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fds[i]), d, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s back: %w", d, err)
		}
	}
	return nil
}

// runTourChild runs TestTour again in a child with new user, network and
// mount namespaces.
func runTourChild(t *testing.T) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestTour$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), tourNSEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %v", errNoNamespaces, err)
	}
	err := cmd.Wait()
	if err == nil && !bytes.Contains(out.Bytes(), []byte("--- PASS: TestTour")) {
		err = errors.New("the child did not run the tour")
	}
	return out.Bytes(), err
}
