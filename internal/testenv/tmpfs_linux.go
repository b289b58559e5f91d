package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// MountTmpfs makes a tmpfs of opts ("size", "256k", ...; mode 0700),
// mounted nowhere (fsopen, fsmount: a detached mount, in no mount table),
// and returns its root as a path (/proc/self/fd/N) and the mount's
// descriptor. The mount lives as long as the descriptor: closed at
// cleanup, or by the kernel when the process ends, so a test that fails,
// times out or is killed leaves no mount behind (a tmpfs mounted on a
// directory outlived a killed test binary). It skips the test when that
// cannot be done (not root, no CAP_SYS_ADMIN, a kernel before 5.2 or a
// seccomp profile without fsopen): CI runs as root.
func MountTmpfs(t testing.TB, opts ...string) (string, int) {
	t.Helper()
	fs, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		t.Skipf("cannot make a tmpfs (root, fsopen): %v", err)
	}
	defer unix.Close(fs)
	opts = append(opts, "mode", "0700")
	for i := 0; i+1 < len(opts); i += 2 {
		if err := unix.FsconfigSetString(fs, opts[i], opts[i+1]); err != nil {
			t.Fatalf("tmpfs %s=%s: %v", opts[i], opts[i+1], err)
		}
	}
	if err := unix.FsconfigCreate(fs); err != nil {
		t.Skipf("cannot make a tmpfs: %v", err)
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Close(mfd) })
	return fmt.Sprintf("/proc/self/fd/%d", mfd), mfd
}

// FullTmpfs returns the root of a MountTmpfs with no inode left: a file's
// create there fails ENOSPC, as a spill file's on a full disk.
func FullTmpfs(t testing.TB) string {
	t.Helper()
	dir, _ := MountTmpfs(t, "size", "1m", "nr_inodes", "4")
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(i)))
		if err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			return dir
		}
		f.Close()
	}
}
