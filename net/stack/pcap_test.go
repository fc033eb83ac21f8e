package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"damselfly/net/link"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// recorder keeps the last frames sent on a pipe and writes them as a pcap
// when a test fails, for inspection with tshark or wireshark.
type recorder struct {
	mu     sync.Mutex
	frames []recorded // ring: next is the oldest once full
	next   int
	limit  int
}

type recorded struct {
	at   time.Time
	data []byte
}

func newRecorder(limit int) *recorder { return &recorder{limit: limit} }

func (r *recorder) observe(_ *link.PipeEnd, at time.Time, f []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fr := recorded{at, append([]byte(nil), f...)}
	if len(r.frames) < r.limit {
		r.frames = append(r.frames, fr)
		return
	}
	r.frames[r.next] = fr
	r.next = (r.next + 1) % r.limit
}

// writeOnFailure registers a cleanup that writes the capture if t failed.
func (r *recorder) writeOnFailure(t testing.TB) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		path := filepath.Join(os.TempDir(), fmt.Sprintf("damselfly-%s-%d.pcap", filepath.Base(t.Name()), time.Now().UnixNano()))
		if err := r.write(path); err != nil {
			t.Logf("pcap: %v", err)
			return
		}
		t.Logf("frames written to %s", path)
	})
}

func (r *recorder) write(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ordered := append(append([]recorded(nil), r.frames[r.next:]...), r.frames[:r.next]...)
	for _, fr := range ordered {
		ci := gopacket.CaptureInfo{Timestamp: fr.at, CaptureLength: len(fr.data), Length: len(fr.data)}
		if err := w.WritePacket(ci, fr.data); err != nil {
			return err
		}
	}
	return nil
}

func TestRecorderWritesPcap(t *testing.T) {
	r := newRecorder(2)
	pipe := link.NewPipe(link.PipeConfig{Observe: r.observe})
	for i := 0; i < 3; i++ {
		pipe.A.Send(make([]byte, 60+i))
	}
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := r.write(path); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	rd, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var lens []int
	for {
		data, _, err := rd.ReadPacketData()
		if err != nil {
			break
		}
		lens = append(lens, len(data))
	}
	if fmt.Sprint(lens) != "[61 62]" {
		t.Fatalf("captured %v, want the last two frames", lens)
	}
}
