// Package bench holds the pure parts of make bench (qemu/cmd/bench), the
// side-by-side comparison of the Damselfly appliance with a Linux guest
// running the same handler: parsing what wrk and ab print, medians and
// ratios over alternating runs, and the report (a text table, results.json
// and an HTML page with a hand-written SVG chart). Booting the guests and
// running the load generators is the command's business; everything here is
// tested on the host.
package bench
