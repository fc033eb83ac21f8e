// Package httpd is the HTTP/1.1 file server of Damselfly's default appliance.
//
// It is plain net/http code, so the same handler runs in the guest on
// Damselfly's TCP stack and, for comparisons, as an ordinary Linux program:
//
//   - GET and HEAD serve files from an fs.FS, with Content-Length, byte
//     ranges, ETag and If-None-Match (through http.ServeContent), and an HTML
//     listing for directories without an index.html;
//   - PUT and DELETE change the files when the server was given a Writer
//     (the cmdline's rw), and sync before answering, so a 2xx means the data
//     is on the disk;
//   - /status is a live page with a small chart and /status.json the figures
//     behind it: the server's own counters plus whatever the kernel reports.
//
// Echo (RFC 862) and discard (RFC 863) services for raw-throughput tests are in
// echo.go.
package httpd
