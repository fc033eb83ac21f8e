package httpd

import (
	"net/http"
	"testing"
	"time"
)

func TestWarmUp(t *testing.T) {
	s := New(Config{Files: testFS(), Now: func() time.Time { return mtime }})
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/site/", http.StatusOK},
		{"/hello.txt", http.StatusOK},
		{"/dir/a.bin", http.StatusOK},
		{"/missing", http.StatusNotFound},
	} {
		code, err := WarmUp(s, tc.path)
		if err != nil {
			t.Fatalf("WarmUp(%s): %v", tc.path, err)
		}
		if code != tc.code {
			t.Errorf("WarmUp(%s) = %d, want %d", tc.path, code, tc.code)
		}
	}
	if n := s.Stats().Requests.Load(); n != 4 {
		t.Errorf("the server counted %d requests, want 4", n)
	}
	if n := s.Stats().BytesOut.Load(); n < 5000 {
		t.Errorf("the server sent %d body bytes, want the files'", n)
	}
}

// A handler that aborts makes net/http close the connection without an
// answer, which WarmUp reports as an error rather than a status.
func TestWarmUpHandlerPanics(t *testing.T) {
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	if _, err := WarmUp(h, "/"); err == nil {
		t.Error("no error for a handler that aborts")
	}
}
