package server

import "testing"

// TestHuntOpsTokenFileBOM: a token file saved by a Windows editor (a byte
// order mark, CRLF) holds the token itself, not the mark in front of it:
// the client that sends the token was refused PERMISSION_DENIED.
func TestHuntOpsTokenFileBOM(t *testing.T) {
	a, err := LoadTokenFile(writeFile(t, "tokens", "\ufeffmytoken\r\nother\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	for tok, want := range map[string]bool{"mytoken": true, "other": true, "\ufeffmytoken": false} {
		if got := a.valid(tok); got != want {
			t.Errorf("valid(%q) = %v, want %v", tok, got, want)
		}
	}
}
