package httpd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

var mtime = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"hello.txt":         {Data: []byte("hello, damselfly\n"), ModTime: mtime},
		"dir/a.bin":         {Data: bytes.Repeat([]byte{0xab}, 5000), ModTime: mtime},
		"dir/b <x>.txt":     {Data: []byte("b"), ModTime: mtime},
		"site/index.html":   {Data: []byte("<h1>site</h1>"), ModTime: mtime},
		"site/other.html":   {Data: []byte("other"), ModTime: mtime},
		"digits/0123456789": {Data: []byte("0123456789"), ModTime: mtime},
	}
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestGetHeadRangeETag(t *testing.T) {
	s := New(Config{Files: testFS()})
	cases := []struct {
		name, method, target string
		hdr                  map[string]string
		code                 int
		body                 string
		length               string
	}{
		{"get", "GET", "/hello.txt", nil, 200, "hello, damselfly\n", "17"},
		{"head", "HEAD", "/hello.txt", nil, 200, "", "17"},
		{"range", "GET", "/digits/0123456789", map[string]string{"Range": "bytes=2-4"}, 206, "234", "3"},
		{"suffix range", "GET", "/digits/0123456789", map[string]string{"Range": "bytes=-3"}, 206, "789", "3"},
		{"bad range", "GET", "/digits/0123456789", map[string]string{"Range": "bytes=50-60"}, 416, "", ""},
		{"missing", "GET", "/nope", nil, 404, "", ""},
		{"index", "GET", "/site/", nil, 200, "<h1>site</h1>", "13"},
		{"dir redirect", "GET", "/site", nil, 301, "", ""},
		{"dotdot redirects to the clean path", "GET", "/dir/../hello.txt", nil, 307, "", ""},
		{"put read-only", "PUT", "/x", nil, 405, "", ""},
		{"delete read-only", "DELETE", "/hello.txt", nil, 405, "", ""},
		{"post", "POST", "/hello.txt", nil, 405, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.method == "PUT" {
				body = strings.NewReader("x")
			}
			r := do(t, s, c.method, c.target, body, c.hdr)
			if r.StatusCode != c.code {
				t.Fatalf("status %d, want %d", r.StatusCode, c.code)
			}
			got := readBody(t, r)
			if c.body != "" && got != c.body {
				t.Fatalf("body %q, want %q", got, c.body)
			}
			if c.method == "HEAD" && got != "" {
				t.Fatalf("HEAD returned a body %q", got)
			}
			if c.length != "" && r.Header.Get("Content-Length") != c.length {
				t.Fatalf("Content-Length %q, want %q", r.Header.Get("Content-Length"), c.length)
			}
		})
	}

	r := do(t, s, "GET", "/hello.txt", nil, nil)
	tag := r.Header.Get("ETag")
	if tag == "" || !strings.HasPrefix(tag, `"`) {
		t.Fatalf("no strong ETag: %q", tag)
	}
	r = do(t, s, "GET", "/hello.txt", nil, map[string]string{"If-None-Match": tag})
	if r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with current tag: %d, want 304", r.StatusCode)
	}
	r = do(t, s, "GET", "/hello.txt", nil, map[string]string{"If-None-Match": `"other"`})
	if r.StatusCode != 200 {
		t.Fatalf("If-None-Match with other tag: %d, want 200", r.StatusCode)
	}
}

func TestDirectoryListingEscapes(t *testing.T) {
	s := New(Config{Files: testFS()})
	r := do(t, s, "GET", "/dir/", nil, nil)
	body := readBody(t, r)
	if r.StatusCode != 200 || !strings.Contains(body, "a.bin") {
		t.Fatalf("listing: %d %q", r.StatusCode, body)
	}
	if strings.Contains(body, "<x>") || !strings.Contains(body, "&lt;x&gt;") {
		t.Fatalf("listing does not escape names: %q", body)
	}
	if !strings.Contains(body, "5000") {
		t.Fatalf("listing lacks the size: %q", body)
	}
}

func TestPutDeleteOnDisk(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "old.txt"), []byte("old"), 0o644)
	w, err := NewOSWriter(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Files: os.DirFS(dir), Writer: w})

	r := do(t, s, "PUT", "/new/deep/file.txt", strings.NewReader("fresh data"), nil)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT new: %d %s", r.StatusCode, readBody(t, r))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "new/deep/file.txt")); string(b) != "fresh data" {
		t.Fatalf("file on disk = %q", b)
	}
	r = do(t, s, "PUT", "/old.txt", strings.NewReader("replaced"), nil)
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT existing: %d", r.StatusCode)
	}
	if got := readBody(t, do(t, s, "GET", "/old.txt", nil, nil)); got != "replaced" {
		t.Fatalf("GET after PUT = %q", got)
	}
	r = do(t, s, "DELETE", "/old.txt", nil, nil)
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.txt")); !os.IsNotExist(err) {
		t.Fatalf("file still there after DELETE: %v", err)
	}
	if r := do(t, s, "DELETE", "/old.txt", nil, nil); r.StatusCode != 404 {
		t.Fatalf("DELETE missing: %d, want 404", r.StatusCode)
	}
	if r := do(t, s, "PUT", "/", strings.NewReader("x"), nil); r.StatusCode != 400 {
		t.Fatalf("PUT root: %d, want 400", r.StatusCode)
	}
	if r := do(t, s, "PUT", "/new", strings.NewReader("x"), nil); r.StatusCode != http.StatusConflict {
		t.Fatalf("PUT over a directory: %d, want 409", r.StatusCode)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), "~") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
	if got := s.Stats().Puts.Load(); got != 2 {
		t.Fatalf("puts counter = %d, want 2", got)
	}
}

func TestStatusJSON(t *testing.T) {
	now := mtime
	s := New(Config{Files: testFS(), Name: "t", Now: func() time.Time { return now },
		Status: func() any {
			return map[string]any{"netpart": "ports", "tcp_connections": []map[string]any{
				{"local": "10.0.2.15:80", "remote": "10.0.2.2:40211", "state": "ESTABLISHED", "cpu": 1}}}
		}})
	do(t, s, "GET", "/hello.txt", nil, nil)
	do(t, s, "GET", "/nope", nil, nil)
	now = now.Add(1500 * time.Millisecond)
	r := do(t, s, "GET", "/status.json", nil, nil)
	var d struct {
		Name     string `json:"name"`
		UptimeMS int64  `json:"uptime_ms"`
		HTTP     HTTPStats
		Kernel   struct {
			Netpart string `json:"netpart"`
			Conns   []struct {
				Local string `json:"local"`
				CPU   int    `json:"cpu"`
			} `json:"tcp_connections"`
		} `json:"kernel"`
	}
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "t" || d.UptimeMS != 1500 || d.Kernel.Netpart != "ports" || len(d.Kernel.Conns) != 1 || d.Kernel.Conns[0].CPU != 1 {
		t.Fatalf("status = %+v", d)
	}
	// The status request itself is counted before the document is built.
	if d.HTTP.Requests != 3 || d.HTTP.OK != 1 || d.HTTP.Client != 1 {
		t.Fatalf("http counters = %+v", d.HTTP)
	}
	page := readBody(t, do(t, s, "GET", "/status", nil, nil))
	if !strings.Contains(page, "/status.json") || !strings.Contains(page, "<svg") {
		t.Fatalf("status page lacks the chart or the poll")
	}
}

// TestKeepAlivePipelined sends two requests in one write on one connection
// and expects both responses, in order, with exact lengths.
func TestKeepAlivePipelined(t *testing.T) {
	ts := httptest.NewServer(New(Config{Files: testFS()}))
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /dir/a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	for i, want := range []int{17, 5000} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || len(b) != want || resp.ContentLength != int64(want) {
			t.Fatalf("response %d: %d bytes (Content-Length %d), want %d: %v", i, len(b), resp.ContentLength, want, err)
		}
	}
}

func TestEchoDiscard(t *testing.T) {
	for _, svc := range []struct {
		name  string
		serve func(net.Listener, *StreamStats) error
		echo  bool
	}{{"echo", ServeEcho, true}, {"discard", ServeDiscard, false}} {
		t.Run(svc.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var st StreamStats
			done := make(chan error, 1)
			go func() { done <- svc.serve(l, &st) }()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := bytes.Repeat([]byte("damselfly"), 100000)
			go func() {
				c.Write(msg)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if svc.echo && !bytes.Equal(got, msg) {
				t.Fatalf("echo returned %d bytes, want %d", len(got), len(msg))
			}
			if !svc.echo && len(got) != 0 {
				t.Fatalf("discard returned %d bytes", len(got))
			}
			l.Close()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v", err)
			}
			if st.Conns.Load() != 1 {
				t.Fatalf("conns = %d", st.Conns.Load())
			}
		})
	}
}

func FuzzFSName(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/../x", "//a//b/", "/a/./b", "x", "/\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		name, ok := fsName(p)
		if ok && (strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../")) {
			t.Fatalf("fsName(%q) = %q escapes the root", p, name)
		}
	})
}

// failWriter fails every write with err.
type failWriter struct{ err error }

func (f failWriter) WriteFile(string, io.Reader) (int64, error) { return 0, f.err }
func (f failWriter) Remove(string) error                        { return f.err }
func (f failWriter) Sync() error                                { return nil }

func TestPutErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		body string
	}{
		{fmt.Errorf("ext2: allocate block: %w", syscall.ENOSPC), http.StatusInsufficientStorage, "insufficient storage: ext2: allocate block: no space left on device"},
		{fmt.Errorf("ext2: file size: %w", syscall.EFBIG), http.StatusRequestEntityTooLarge, "too large: ext2: file size: file too large"},
		{fmt.Errorf("mount: %w", fs.ErrPermission), http.StatusForbidden, "forbidden"},
		{errors.New("disk on fire"), http.StatusInternalServerError, "disk on fire"},
	} {
		s := New(Config{Files: testFS(), Writer: failWriter{tc.err}})
		r := do(t, s, "PUT", "/up.bin", strings.NewReader("data"), nil)
		if body := readBody(t, r); r.StatusCode != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%v: %d %q, want %d %q", tc.err, r.StatusCode, body, tc.code, tc.body)
		}
	}
}
