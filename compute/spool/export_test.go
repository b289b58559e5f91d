package spool

import "os"

// PunchHoles reports whether the file system of dir punches holes.
func PunchHoles(dir string) bool {
	f, err := os.CreateTemp(dir, "punch")
	if err != nil {
		return false
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 8<<10)); err != nil {
		return false
	}
	return punchHole(f, 0, 4<<10)
}

// FileSize returns the size of q's spill file (0 without one).
func (q *Queue) FileSize() int64 {
	if q.file == nil {
		return 0
	}
	st, err := q.file.Stat()
	if err != nil {
		return -1
	}
	return st.Size()
}

// SegSize is the size of the spill file's segments.
const SegSize = segSize

// SetSegSize makes the spill file's segments n bytes; call it before the
// first write.
func (s *Spool) SetSegSize(n int64) { s.q.seg = n }

// SetWriteBehind makes the spool's write-behind buffers n bytes; call it
// before the first write.
func (s *Spool) SetWriteBehind(n int) { s.q.wbSize = n }

// SpillTo makes f the spool's spill file, in place of the temp file its
// first spill would create; call it before the first write.
func (s *Spool) SpillTo(f *os.File) {
	s.q.file = f
	if s.q.wbSize > 0 {
		s.q.wb = newWriteBehind(f, s.q.wbSize, s.q.seg)
	}
}
