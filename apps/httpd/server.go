package httpd

import (
	"io"
	"io/fs"
	"net/http"
	"sync/atomic"
	"time"
)

// Writer changes the served tree. Names are io/fs names (unrooted, slash
// separated). A nil Writer makes the server read-only.
type Writer interface {
	// WriteFile creates or replaces name with the bytes of r, creating
	// missing parent directories, and reports how many bytes it wrote.
	WriteFile(name string, r io.Reader) (int64, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// Sync makes every change durable.
	Sync() error
}

// Config describes one server.
type Config struct {
	// Files is the tree GET serves.
	Files fs.FS
	// Writer, when not nil, enables PUT and DELETE.
	Writer Writer
	// Status, when not nil, is called for every /status.json request; its
	// result is encoded under "kernel" beside the server's own counters.
	Status func() any
	// Name appears in the Server header and the status page.
	Name string
	// Now is the clock for uptime (time.Now when nil).
	Now func() time.Time
}

// Stats are the server's own counters, read with atomic loads.
type Stats struct {
	Requests   atomic.Uint64
	Responses2 atomic.Uint64 // 2xx and 3xx
	Responses4 atomic.Uint64
	Responses5 atomic.Uint64
	BytesOut   atomic.Uint64
	Puts       atomic.Uint64
	Deletes    atomic.Uint64
}

// Server is an http.Handler for the appliance.
type Server struct {
	cfg   Config
	start time.Time
	mux   *http.ServeMux
	stats Stats
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Name == "" {
		cfg.Name = "damselfly"
	}
	s := &Server{cfg: cfg, start: cfg.Now(), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /status.json", s.statusJSON)
	s.mux.HandleFunc("GET /status", s.statusPage)
	s.mux.HandleFunc("/", s.files)
	return s
}

// Stats returns the live counters.
func (s *Server) Stats() *Stats { return &s.stats }

// ServeHTTP counts the request and its outcome, then dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.stats.Requests.Add(1)
	cw := &countingWriter{ResponseWriter: w}
	w.Header().Set("Server", s.cfg.Name)
	s.mux.ServeHTTP(cw, r)
	switch code := cw.status(); {
	case code >= 500:
		s.stats.Responses5.Add(1)
	case code >= 400:
		s.stats.Responses4.Add(1)
	default:
		s.stats.Responses2.Add(1)
	}
	s.stats.BytesOut.Add(uint64(cw.n))
}

// countingWriter records the status code and body bytes of a response.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}

// Unwrap lets http.ResponseController reach the real writer (flush, deadlines).
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
