package compute

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/windows"
)

// createUnlinked creates a file in dir (the system's temp dir when empty)
// that Windows deletes when its handle closes, also when the process dies.
// Windows cannot remove an open file that was not opened for it (os.Create
// does not share delete access), so Unix's create-then-unlink fails here.
func createUnlinked(dir string) (*os.File, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	for range 100 {
		name := filepath.Join(dir, "halfclose-spool-"+strconv.FormatUint(uint64(rand.Uint32()), 10))
		p, err := windows.UTF16PtrFromString(name)
		if err != nil {
			return nil, &os.PathError{Op: "createfile", Path: name, Err: err}
		}
		h, err := windows.CreateFile(p, windows.GENERIC_READ|windows.GENERIC_WRITE,
			windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
			windows.CREATE_NEW, windows.FILE_ATTRIBUTE_TEMPORARY|windows.FILE_FLAG_DELETE_ON_CLOSE, 0)
		if errors.Is(err, windows.ERROR_FILE_EXISTS) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "createfile", Path: name, Err: err}
		}
		return os.NewFile(uintptr(h), name), nil
	}
	return nil, &os.PathError{Op: "createfile", Path: filepath.Join(dir, "halfclose-spool-*"), Err: os.ErrExist}
}
