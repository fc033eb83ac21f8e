package httpd

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"syscall"
)

// maxBuffered bounds how much of a file that offers neither Seek nor ReadAt
// is read into memory to serve it; larger ones are refused rather than risk
// the guest's memory.
const maxBuffered = 64 << 20

// files serves GET/HEAD from cfg.Files and PUT/DELETE through cfg.Writer.
func (s *Server) files(w http.ResponseWriter, r *http.Request) {
	name, ok := fsName(r.URL.Path)
	if !ok {
		http.Error(w, "invalid path", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, r, name)
	case http.MethodPut:
		s.put(w, r, name)
	case http.MethodDelete:
		s.delete(w, r, name)
	default:
		w.Header().Set("Allow", s.allow())
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) allow() string {
	if s.cfg.Writer == nil {
		return "GET, HEAD"
	}
	return "GET, HEAD, PUT, DELETE"
}

// fsName turns a URL path into an io/fs name ("." for the root).
func fsName(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	clean := path.Clean(p)
	if clean == "/" {
		return ".", true
	}
	name := strings.TrimPrefix(clean, "/")
	return name, fs.ValidPath(name)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, name string) {
	if s.cfg.Files == nil {
		http.NotFound(w, r)
		return
	}
	fi, err := fs.Stat(s.cfg.Files, name)
	if err != nil {
		writeFSError(w, err)
		return
	}
	if fi.IsDir() {
		if !strings.HasSuffix(r.URL.Path, "/") {
			http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
			return
		}
		index := path.Join(name, "index.html")
		if ifi, err := fs.Stat(s.cfg.Files, index); err == nil && ifi.Mode().IsRegular() {
			s.serveFile(w, r, index, ifi)
			return
		}
		s.listDir(w, r, name)
		return
	}
	if !fi.Mode().IsRegular() {
		http.Error(w, "not a regular file", http.StatusForbidden)
		return
	}
	s.serveFile(w, r, name, fi)
}

// serveFile hands the file to http.ServeContent, which implements Range,
// If-Range, If-None-Match (against the ETag set here), HEAD and
// Content-Length.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string, fi fs.FileInfo) {
	f, err := s.cfg.Files.Open(name)
	if err != nil {
		writeFSError(w, err)
		return
	}
	defer f.Close()
	rs, err := seeker(f, fi.Size())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("ETag", etag(fi))
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), rs)
}

// etag is a strong validator from size and modification time: the server
// never rewrites a file in place without changing one of them (PUT replaces
// the file and the filesystem updates mtime).
func etag(fi fs.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
}

func seeker(f fs.File, size int64) (io.ReadSeeker, error) {
	if rs, ok := f.(io.ReadSeeker); ok {
		return rs, nil
	}
	if ra, ok := f.(io.ReaderAt); ok {
		return io.NewSectionReader(ra, 0, size), nil
	}
	if size > maxBuffered {
		return nil, fmt.Errorf("file of %d bytes cannot seek and is too large to buffer", size)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBuffered+1))
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func (s *Server) listDir(w http.ResponseWriter, r *http.Request, name string) {
	ents, err := fs.ReadDir(s.cfg.Files, name)
	if err != nil {
		writeFSError(w, err)
		return
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	var b strings.Builder
	title := html.EscapeString(r.URL.Path)
	fmt.Fprintf(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Index of %s</title></head>\n", title)
	fmt.Fprintf(&b, "<body><h1>Index of %s</h1>\n<table>\n<tr><th>name</th><th>size</th><th>modified</th></tr>\n", title)
	if name != "." {
		b.WriteString("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n")
	}
	for _, e := range ents {
		n := e.Name()
		size, mod := "", ""
		if fi, err := e.Info(); err == nil {
			mod = fi.ModTime().UTC().Format("2006-01-02 15:04:05")
			if !e.IsDir() {
				size = fmt.Sprint(fi.Size())
			}
		}
		if e.IsDir() {
			n += "/"
		}
		href := (&url.URL{Path: n}).String()
		fmt.Fprintf(&b, "<tr><td><a href=\"%s\">%s</a></td><td>%s</td><td>%s</td></tr>\n",
			html.EscapeString(href), html.EscapeString(n), size, mod)
	}
	b.WriteString("</table></body></html>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", fmt.Sprint(b.Len()))
	if r.Method == http.MethodHead {
		return
	}
	io.WriteString(w, b.String())
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, name string) {
	if s.cfg.Writer == nil {
		w.Header().Set("Allow", s.allow())
		http.Error(w, "read-only: boot with rw to enable PUT", http.StatusMethodNotAllowed)
		return
	}
	if name == "." || strings.HasSuffix(r.URL.Path, "/") {
		http.Error(w, "PUT needs a file name", http.StatusBadRequest)
		return
	}
	existed := false
	if fi, err := fs.Stat(s.cfg.Files, name); err == nil {
		if fi.IsDir() {
			http.Error(w, "is a directory", http.StatusConflict)
			return
		}
		existed = true
	}
	n, err := s.cfg.Writer.WriteFile(name, r.Body)
	if err != nil {
		writeFSError(w, err)
		return
	}
	if r.ContentLength >= 0 && n != r.ContentLength {
		http.Error(w, fmt.Sprintf("short body: %d of %d bytes", n, r.ContentLength), http.StatusBadRequest)
		return
	}
	if err := s.cfg.Writer.Sync(); err != nil {
		http.Error(w, "sync: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.stats.Puts.Add(1)
	if existed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Location", r.URL.Path)
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, name string) {
	if s.cfg.Writer == nil {
		w.Header().Set("Allow", s.allow())
		http.Error(w, "read-only: boot with rw to enable DELETE", http.StatusMethodNotAllowed)
		return
	}
	if name == "." {
		http.Error(w, "cannot delete the root", http.StatusForbidden)
		return
	}
	if err := s.cfg.Writer.Remove(name); err != nil {
		writeFSError(w, err)
		return
	}
	if err := s.cfg.Writer.Sync(); err != nil {
		http.Error(w, "sync: "+err.Error(), http.StatusInternalServerError)
		return
	}
	s.stats.Deletes.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// writeFSError maps io/fs sentinel errors, and the syscall errnos of a
// full disk or a file too large, to HTTP statuses.
func writeFSError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		http.Error(w, "insufficient storage: "+err.Error(), http.StatusInsufficientStorage)
	case errors.Is(err, syscall.EFBIG):
		http.Error(w, "too large: "+err.Error(), http.StatusRequestEntityTooLarge)
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, "not found", http.StatusNotFound)
	case errors.Is(err, fs.ErrPermission):
		http.Error(w, "forbidden", http.StatusForbidden)
	case errors.Is(err, fs.ErrExist):
		http.Error(w, "conflict", http.StatusConflict)
	case errors.Is(err, fs.ErrInvalid):
		http.Error(w, "invalid", http.StatusBadRequest)
	default:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
