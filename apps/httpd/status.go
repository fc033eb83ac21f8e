package httpd

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

//go:embed status.html
var statusHTML []byte

// HTTPStats is the "http" member of /status.json.
type HTTPStats struct {
	Requests uint64 `json:"requests"`
	OK       uint64 `json:"responses_2xx_3xx"`
	Client   uint64 `json:"responses_4xx"`
	Server   uint64 `json:"responses_5xx"`
	BytesOut uint64 `json:"bytes_out"`
	Puts     uint64 `json:"puts"`
	Deletes  uint64 `json:"deletes"`
}

// StatusDoc is the document /status.json returns. Kernel is what
// Config.Status returned, encoded as is; its members are at the top level of
// "kernel" so that tools read e.g. .kernel.netpart.
type StatusDoc struct {
	Name     string    `json:"name"`
	UptimeMS int64     `json:"uptime_ms"`
	HTTP     HTTPStats `json:"http"`
	Kernel   any       `json:"kernel,omitempty"`
}

func (s *Server) status() StatusDoc {
	d := StatusDoc{
		Name:     s.cfg.Name,
		UptimeMS: s.cfg.Now().Sub(s.start).Milliseconds(),
		HTTP: HTTPStats{
			Requests: s.stats.Requests.Load(),
			OK:       s.stats.Responses2.Load(),
			Client:   s.stats.Responses4.Load(),
			Server:   s.stats.Responses5.Load(),
			BytesOut: s.stats.BytesOut.Load(),
			Puts:     s.stats.Puts.Load(),
			Deletes:  s.stats.Deletes.Load(),
		},
	}
	if s.cfg.Status != nil {
		d.Kernel = s.cfg.Status()
	}
	return d
}

func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.status(), "", "  ")
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(statusHTML)
}
