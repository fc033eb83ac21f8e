// A line editor for the serial console that works from a plain terminal
// (QEMU's -serial stdio or mon:stdio, screen, minicom): the terminal sends
// raw bytes, we echo and redraw with nothing but backspace, CR and the VT100
// "erase to end of line" sequence (ESC [ K).
//
// Keys: printable ASCII inserts at the cursor; Backspace (DEL 0x7f or BS
// 0x08) deletes before the cursor; ^U kills the line; ^C abandons it; ^A/^E
// go to start/end; Left/Right (ESC [ D / ESC [ C) move; Up/Down (ESC [ A /
// ESC [ B) walk the history; Enter (CR, LF or CR LF) submits.

package kernel

import (
	"bufio"
	"errors"
	"io"
)

// ErrInterrupt is returned by ReadLine when the user types ^C.
var ErrInterrupt = errors.New("interrupt")

const (
	keyCtrlA = 0x01
	keyCtrlC = 0x03
	keyCtrlD = 0x04
	keyCtrlE = 0x05
	keyBS    = 0x08
	keyLF    = 0x0a
	keyCR    = 0x0d
	keyCtrlU = 0x15
	keyEsc   = 0x1b
	keyDEL   = 0x7f
	eraseEOL = "\x1b[K"
	maxLine  = 512
	maxHist  = 64
)

// LineEditor reads edited lines from in, echoing to out.
type LineEditor struct {
	in      *bufio.Reader
	out     io.Writer
	history []string
	lastCR  bool // the previous line ended with CR: swallow a following LF
}

// NewLineEditor wraps a console.
func NewLineEditor(in io.Reader, out io.Writer) *LineEditor {
	return &LineEditor{in: bufio.NewReader(in), out: out}
}

// History returns the remembered lines, oldest first.
func (e *LineEditor) History() []string { return e.history }

// ReadLine prints prompt and returns the submitted line (without the line
// terminator). It returns ErrInterrupt on ^C and io.EOF when the input ends
// or ^D is typed on an empty line.
func (e *LineEditor) ReadLine(prompt string) (string, error) {
	io.WriteString(e.out, prompt)
	var buf []byte
	cur := 0
	hist := len(e.history) // index into history; len means the line being typed
	var saved []byte       // the line being typed while browsing history

	// redraw rewrites the line from the cursor's old position old.
	redraw := func(old int) {
		out := make([]byte, 0, 2*len(buf)+8)
		for i := 0; i < old; i++ {
			out = append(out, keyBS)
		}
		out = append(out, buf...)
		out = append(out, eraseEOL...)
		for i := len(buf); i > cur; i-- {
			out = append(out, keyBS)
		}
		e.out.Write(out)
	}
	for {
		c, err := e.in.ReadByte()
		if err != nil {
			if len(buf) > 0 && err == io.EOF {
				io.WriteString(e.out, "\r\n")
				return string(buf), nil
			}
			return "", err
		}
		if e.lastCR {
			e.lastCR = false
			if c == keyLF {
				continue
			}
		}
		switch {
		case c == keyCR || c == keyLF:
			e.lastCR = c == keyCR
			io.WriteString(e.out, "\r\n")
			line := string(buf)
			if line != "" && (len(e.history) == 0 || e.history[len(e.history)-1] != line) {
				e.history = append(e.history, line)
				if len(e.history) > maxHist {
					e.history = e.history[1:]
				}
			}
			return line, nil
		case c == keyCtrlC:
			io.WriteString(e.out, "^C\r\n")
			return "", ErrInterrupt
		case c == keyCtrlD:
			if len(buf) == 0 {
				io.WriteString(e.out, "\r\n")
				return "", io.EOF
			}
		case c == keyBS || c == keyDEL:
			if cur > 0 {
				old := cur
				buf = append(buf[:cur-1], buf[cur:]...)
				cur--
				redraw(old)
			}
		case c == keyCtrlU:
			old := cur
			buf, cur = buf[:0], 0
			redraw(old)
		case c == keyCtrlA:
			old := cur
			cur = 0
			redraw(old)
		case c == keyCtrlE:
			old := cur
			cur = len(buf)
			redraw(old)
		case c == keyEsc:
			key := e.escape()
			old := cur
			switch key {
			case 'C':
				if cur < len(buf) {
					cur++
				}
			case 'D':
				if cur > 0 {
					cur--
				}
			case 'A', 'B':
				if hist == len(e.history) {
					saved = append(saved[:0], buf...)
				}
				if key == 'A' && hist > 0 {
					hist--
				} else if key == 'B' && hist < len(e.history) {
					hist++
				} else {
					continue
				}
				if hist == len(e.history) {
					buf = append(buf[:0], saved...)
				} else {
					buf = append(buf[:0], e.history[hist]...)
				}
				cur = len(buf)
			case 'H':
				cur = 0
			case 'F':
				cur = len(buf)
			default:
				continue
			}
			redraw(old)
		case c >= 0x20 && c < 0x7f:
			if len(buf) >= maxLine {
				continue
			}
			old := cur
			buf = append(buf, 0)
			copy(buf[cur+1:], buf[cur:])
			buf[cur] = c
			cur++
			if cur == len(buf) {
				e.out.Write([]byte{c}) // common case: typing at the end
			} else {
				redraw(old)
			}
		}
		// other control bytes and non-ASCII are ignored
	}
}

// escape reads the rest of an ANSI escape sequence (ESC [ ... final or
// ESC O final) and returns its final byte, or 0 for anything else.
func (e *LineEditor) escape() byte {
	c, err := e.in.ReadByte()
	if err != nil || (c != '[' && c != 'O') {
		return 0
	}
	for i := 0; i < 8; i++ {
		c, err = e.in.ReadByte()
		if err != nil {
			return 0
		}
		if c >= 0x40 && c <= 0x7e { // final byte
			return c
		}
	}
	return 0
}
