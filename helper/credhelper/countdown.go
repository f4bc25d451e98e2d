package credhelper

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// countdown is the "waiting" line of login on stderr. On a terminal it is
// one line rewritten in place every second; elsewhere (a log, a CI job) a
// line at the start and then every 30 seconds, so that the output stays
// readable.
type countdown struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	deadline time.Time
	last     string
	printed  time.Time
	open     bool // a rewritten line is on the terminal
}

func newCountdown(w io.Writer, deadline time.Time) *countdown {
	c := &countdown{w: w, deadline: deadline}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			c.tty = true
		}
	}
	return c
}

// line is the countdown's text at now.
func (c *countdown) line(now time.Time) string {
	left := max(c.deadline.Sub(now).Round(time.Second), 0)
	return fmt.Sprintf("%s: waiting for approval in the browser, %d:%02d left (Ctrl-C to cancel)", Name, int(left.Minutes()), int(left.Seconds())%60)
}

func (c *countdown) show(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.line(now)
	switch {
	case l == c.last:
	case c.tty:
		fmt.Fprintf(c.w, "\r%s\x1b[K", l)
		c.open = true
	case c.printed.IsZero() || now.Sub(c.printed) >= 30*time.Second:
		fmt.Fprintln(c.w, l)
		c.printed = now
	}
	c.last = l
}

// say prints a message on a line of its own.
func (c *countdown) say(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLine()
	fmt.Fprintf(c.w, Name+": "+format+"\n", args...)
	c.last = ""
}

// done ends the rewritten line, so that what follows starts on its own.
func (c *countdown) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLine()
}

func (c *countdown) endLine() {
	if c.open {
		fmt.Fprint(c.w, "\n")
		c.open = false
	}
}
