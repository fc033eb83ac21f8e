package main

// A sampling profiler for the guest, from outside it: QEMU's gdbstub stops
// every vCPU (all-stop mode), we read each vCPU's RIP and let them go on,
// some hundred times a second. Under TCG a stopped vCPU leaves its
// translation block, so the RIP is exact for that moment. Halted vCPUs
// (idle) are sampled too; their RIP is the instruction after HLT. The
// output is "thread count rip,[rsp],return addresses..." lines, for `go
// tool addr2line` against an image with its symbol table (build without
// -s -w).
//
// The GDB remote serial protocol (GDB manual, appendix E): packets are
// $data#cc with cc the hex sum of data mod 256, answered by + (no-ack mode
// is not negotiated); 0x03 alone interrupts; "g" reads the registers of
// the thread chosen by "Hg<id>"; "c" continues. For x86-64, "g" lists
// rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8-r15, then rip, 8 bytes each
// in target (little-endian) order as hex.

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

type gdbConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialGDB(path string) (*gdbConn, error) {
	var c net.Conn
	var err error
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("unix", path); err == nil {
			return &gdbConn{c: c, r: bufio.NewReader(c)}, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("gdbstub: %w", err)
}

func (g *gdbConn) send(data string) error {
	var sum byte
	for i := 0; i < len(data); i++ {
		sum += data[i]
	}
	_, err := fmt.Fprintf(g.c, "$%s#%02x", data, sum)
	return err
}

// recv reads one packet (skipping acks) and acknowledges it.
func (g *gdbConn) recv() (string, error) {
	for {
		b, err := g.r.ReadByte()
		if err != nil {
			return "", err
		}
		if b != '$' {
			continue // '+', '-', or noise
		}
		data, err := g.r.ReadString('#')
		if err != nil {
			return "", err
		}
		if _, err := g.r.Discard(2); err != nil {
			return "", err
		}
		if _, err := g.c.Write([]byte{'+'}); err != nil {
			return "", err
		}
		return strings.TrimSuffix(data, "#"), nil
	}
}

// call sends a command and returns its reply. Stop replies (T, S) that
// arrive meanwhile are skipped: QEMU sends one of its own when gdb
// attaches, besides the one "?" asks for.
func (g *gdbConn) call(data string) (string, error) {
	if err := g.send(data); err != nil {
		return "", err
	}
	for {
		r, err := g.recv()
		if err != nil || !isStop(r) {
			return r, err
		}
	}
}

func isStop(r string) bool { return len(r) > 0 && (r[0] == 'T' || r[0] == 'S') }

// interrupt stops the guest and waits for the stop reply.
func (g *gdbConn) interrupt() error {
	if _, err := g.c.Write([]byte{0x03}); err != nil {
		return err
	}
	for {
		r, err := g.recv()
		if err != nil || isStop(r) {
			return err
		}
	}
}

// threads lists the stub's thread ids (one per vCPU).
func (g *gdbConn) threads() ([]string, error) {
	var ids []string
	r, err := g.call("qfThreadInfo")
	for err == nil && strings.HasPrefix(r, "m") {
		ids = append(ids, strings.Split(r[1:], ",")...)
		r, err = g.call("qsThreadInfo")
	}
	return ids, err
}

// stack selects thread id and returns its RIP followed by return
// addresses: the word at RSP (the caller, when the function has no frame
// of its own, as runtime.memmove), then the frame-pointer chain (Go on
// amd64 keeps RBP as the frame pointer: [RBP] is the caller's RBP,
// [RBP+8] the return address), up to depth entries.
func (g *gdbConn) stack(id string, depth int) ([]uint64, error) {
	if r, err := g.call("Hg" + id); err != nil || r != "OK" {
		return nil, fmt.Errorf("gdbstub: Hg%s: %q %v", id, r, err)
	}
	r, err := g.call("g")
	if err != nil {
		return nil, err
	}
	reg := func(i int) (uint64, error) { // i-th 8-byte register
		if len(r) < (i+1)*16 {
			return 0, fmt.Errorf("gdbstub: register packet of %d chars", len(r))
		}
		return le64(r[i*16 : (i+1)*16])
	}
	rip, err := reg(16)
	if err != nil {
		return nil, err
	}
	rsp, _ := reg(7)
	rbp, _ := reg(6)
	out := []uint64{rip}
	if v, err := g.word(rsp); err == nil {
		out = append(out, v)
	}
	for len(out) < depth && rbp != 0 {
		ret, err := g.word(rbp + 8)
		if err != nil || ret == 0 {
			break
		}
		out = append(out, ret)
		next, err := g.word(rbp)
		if err != nil || next <= rbp {
			break // frames move up the stack
		}
		rbp = next
	}
	return out, nil
}

// word reads 8 bytes of guest memory.
func (g *gdbConn) word(addr uint64) (uint64, error) {
	r, err := g.call(fmt.Sprintf("m%x,8", addr))
	if err != nil {
		return 0, err
	}
	if len(r) != 16 {
		return 0, fmt.Errorf("gdbstub: m%x: %q", addr, r)
	}
	return le64(r)
}

func le64(h string) (uint64, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 8 {
		return 0, fmt.Errorf("gdbstub: bad word %q", h)
	}
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// profiler samples until stopped.
type profiler struct {
	g       *gdbConn
	every   time.Duration
	mu      sync.Mutex
	on      bool
	samples map[string]map[string]int // thread -> "pc,[rsp],ret1,ret2..." -> count; under mu
	taken   chan struct{}             // a sample was recorded (capacity 1, for tests)
	quit    chan struct{}             // closed by stop
	done    chan struct{}             // closed when loop returns
	err     error
}

func startProfiler(path string, every time.Duration) (*profiler, error) {
	g, err := dialGDB(path)
	if err != nil {
		return nil, err
	}
	// The stub stops the guest when gdb attaches: ask why, then go on.
	if err := g.send("?"); err != nil {
		return nil, err
	}
	if _, err := g.recv(); err != nil {
		return nil, err
	}
	if err := g.send("c"); err != nil {
		return nil, err
	}
	p := &profiler{g: g, every: every, samples: map[string]map[string]int{}, taken: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// enable turns recording on or off (the guest is sampled only while on).
func (p *profiler) enable(on bool) {
	p.mu.Lock()
	p.on = on
	p.mu.Unlock()
}

func (p *profiler) loop() {
	defer close(p.done)
	tk := time.NewTicker(p.every)
	defer tk.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-tk.C:
		}
		p.mu.Lock()
		on := p.on
		p.mu.Unlock()
		if !on {
			continue
		}
		if err := p.sample(); err != nil {
			p.err = err
			return
		}
	}
}

// sample stops the guest, reads every vCPU's RIP and continues it.
func (p *profiler) sample() error {
	if err := p.g.interrupt(); err != nil {
		return err
	}
	ids, err := p.g.threads()
	if err != nil {
		return err
	}
	for _, id := range ids {
		st, err := p.g.stack(id, 8)
		if err != nil {
			return err
		}
		k := make([]string, len(st))
		for i, pc := range st {
			k[i] = fmt.Sprintf("0x%x", pc)
		}
		p.mu.Lock()
		m := p.samples[id]
		if m == nil {
			m = map[string]int{}
			p.samples[id] = m
		}
		m[strings.Join(k, ",")]++
		p.mu.Unlock()
	}
	select {
	case p.taken <- struct{}{}:
	default:
	}
	return p.g.send("c")
}

// stop ends sampling, detaches and writes the samples to path.
func (p *profiler) stop(path string) error {
	close(p.quit)
	<-p.done
	p.g.interrupt()
	p.g.call("D") // detach: the guest runs on
	p.g.c.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id := range p.samples {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		for st, n := range p.samples[id] {
			fmt.Fprintf(f, "%s %d %s\n", id, n, st)
		}
	}
	return p.err
}
