package web

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestStylesheetContrast computes WCAG 2 contrast ratios from the colours
// in static/portus.css (no packaged accessibility checker is installed):
// 4.5:1 for text, 3:1 for focus rings and control borders against what
// is next to them.
func TestStylesheetContrast(t *testing.T) {
	data, err := os.ReadFile("static/portus.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(data)
	vars := map[string]string{"white": "#ffffff"}
	for _, m := range regexp.MustCompile(`--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;`).FindAllStringSubmatch(css, -1) {
		vars[m[1]] = m[2]
	}
	for _, c := range []struct {
		fg, bg string
		min    float64
		what   string
	}{
		{"ink", "bg", 4.5, "text on the page"},
		{"ink", "card", 4.5, "text on a card"},
		{"muted", "card", 4.5, "hints on a card"},
		{"muted", "bg", 4.5, "the footer"},
		{"accent", "card", 4.5, "links"},
		{"white", "accent", 4.5, "primary buttons"},
		{"brand-ink", "brand", 4.5, "the header"},
		{"brand", "info-bg", 4.5, "badges"},
		{"err-line", "err-bg", 4.5, "the disabled badge"},
		{"err-line", "card", 4.5, "danger-outline buttons' text"},
		{"ink", "warn-bg", 4.5, "the shown-once warning"},
		{"ink", "err-bg", 4.5, "error messages"},
		{"focus", "card", 3, "the focus ring on a card"},
		{"focus", "bg", 3, "the focus ring on the page"},
		{"focus-on-brand", "brand", 3, "the focus ring in the header"},
		{"control-line", "card", 3, "input and button borders"},
		{"err-line", "card", 3, "danger-outline borders"},
	} {
		fg, bg := vars[c.fg], vars[c.bg]
		if fg == "" || bg == "" {
			t.Errorf("%s: no colour --%s or --%s in the stylesheet", c.what, c.fg, c.bg)
			continue
		}
		if r := contrast(t, fg, bg); r < c.min {
			t.Errorf("%s: --%s %s on --%s %s is %.2f:1, want at least %.1f:1", c.what, c.fg, fg, c.bg, bg, r, c.min)
		}
	}
	// The rules use those colours, not others written in by hand.
	for _, rule := range []string{
		":focus-visible { outline: 3px solid var(--focus);",
		".top :focus-visible, .skip:focus-visible { outline-color: var(--focus-on-brand); }",
		"border: 1px solid var(--control-line);",
		".danger-outline { color: var(--err-line); border-color: var(--err-line); }",
	} {
		if !strings.Contains(css, rule) {
			t.Errorf("the stylesheet lacks %q", rule)
		}
	}
	if n := strings.Count(css, "border: 1px solid #"); n > 0 {
		t.Errorf("%d borders with a hand-written colour; use --control-line or --line", n)
	}
}

// contrast is the WCAG 2 contrast ratio of two #rrggbb colours.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05)
}

func luminance(t *testing.T, hex string) float64 {
	var ch [3]float64
	for i := range ch {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatalf("colour %q: %v", hex, err)
		}
		c := float64(v) / 255
		if c <= 0.03928 {
			ch[i] = c / 12.92
		} else {
			ch[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*ch[0] + 0.7152*ch[1] + 0.0722*ch[2]
}

// The ratios of the WCAG's own examples, so that the formula cannot pass
// everything.
func TestContrastFormula(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want float64
	}{{"#000000", "#ffffff", 21}, {"#ffffff", "#ffffff", 1}, {"#767676", "#ffffff", 4.54}, {"#ffbf47", "#ffffff", 1.64}} {
		if got := contrast(t, c.a, c.b); math.Abs(got-c.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.2f, want %.2f", c.a, c.b, got, c.want)
		}
	}
}
