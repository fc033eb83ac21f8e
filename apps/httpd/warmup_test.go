package httpd

import (
	"errors"
	"io/fs"
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

func TestWarmFiles(t *testing.T) {
	fsys := testFS()
	for _, tc := range []struct {
		path string
		n    int64
		err  error // nil: success; else errors.Is target (or errAny)
	}{
		{"/site/", int64(len(fsys["site/index.html"].Data)), nil},
		{"/site", int64(len(fsys["site/index.html"].Data)), nil},
		{"/dir/a.bin", 5000, nil},
		{"/hello.txt", int64(len(fsys["hello.txt"].Data)), nil},
		{"/missing", 0, fs.ErrNotExist},
		{"/dir/", 0, fs.ErrNotExist}, // a directory without an index
		{"relative", 0, errAny},
	} {
		n, err := WarmFiles(fsys, tc.path)
		switch {
		case tc.err == nil && err != nil:
			t.Errorf("WarmFiles(%q): %v", tc.path, err)
		case tc.err == errAny && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
			t.Errorf("WarmFiles(%q) error = %v, want %v", tc.path, err, tc.err)
		case n != tc.n:
			t.Errorf("WarmFiles(%q) read %d bytes, want %d", tc.path, n, tc.n)
		}
	}
}

// errAny stands for "some error" in TestWarmFiles.
var errAny = errors.New("any error")
