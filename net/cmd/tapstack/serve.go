//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"

	"damselfly/net/stack"
)

// servers are the services tapstack offers.
type servers struct {
	ls   []net.Listener
	udp  net.PacketConn
	http *http.Server
}

func (s *servers) close() {
	s.http.Close()
	if s.udp != nil {
		s.udp.Close()
	}
	for _, l := range s.ls {
		l.Close()
	}
}

// maxBytes bounds /bytes?n= so one request cannot tie the bench up.
const maxBytes = 1 << 30

func serve(st *stack.Stack) (*servers, error) {
	srv := &servers{}
	listen := func(port uint16) (net.Listener, error) {
		l, err := st.ListenTCP(netip.AddrPortFrom(netip.Addr{}, port), 128)
		if err != nil {
			srv.close()
			return nil, fmt.Errorf("listen :%d: %w", port, err)
		}
		srv.ls = append(srv.ls, l)
		return l, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><body><h1>Damselfly</h1><p>%d protocol threads, netpart=%s</p></body></html>\n",
			st.Threads(), st.Partition().Name())
	})
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil || n < 0 || n > maxBytes {
			http.Error(w, "n must be 0.."+strconv.Itoa(maxBytes), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		writePattern(w, n)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		enc.Encode(st.Stats())
	})
	srv.http = &http.Server{Handler: mux}
	hl, err := listen(80)
	if err != nil {
		return nil, err
	}
	go srv.http.Serve(hl)
	el, err := listen(7)
	if err != nil {
		return nil, err
	}
	go acceptLoop(el, func(c net.Conn) {
		io.Copy(c, c)
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	})
	dl, err := listen(9)
	if err != nil {
		return nil, err
	}
	go acceptLoop(dl, func(c net.Conn) { io.Copy(io.Discard, c) })
	// UDP echo (RFC 862) on port 7 as well.
	u, err := st.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7))
	if err != nil {
		srv.close()
		return nil, fmt.Errorf("listen udp :7: %w", err)
	}
	srv.udp = u
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := u.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			u.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return srv, nil
}

func acceptLoop(l net.Listener, handle func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			handle(c)
		}()
	}
}

// writePattern writes n bytes of a fixed pattern (byte i is i mod 251, a
// prime so that misplaced blocks show up) that clients can verify.
func writePattern(w io.Writer, n int64) {
	buf := make([]byte, 64<<10)
	var off int64
	for off < n {
		k := min(int64(len(buf)), n-off)
		for i := range k {
			buf[i] = byte((off + i) % 251)
		}
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		off += k
	}
}
