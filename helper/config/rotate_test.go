package config

import (
	"strings"
	"testing"
	"time"
)

func TestRotateAfter(t *testing.T) {
	if c := Default(); c.RotateAfter != 0 {
		t.Errorf("default rotate_after = %s, want off", c.RotateAfter)
	}
	c, err := Load(write(t, `{"rotate_after": "720h"}`))
	if err != nil || c.RotateAfter != 720*time.Hour {
		t.Fatalf("rotate_after 720h: %v, %v", c, err)
	}
	for _, bad := range []string{`"0s"`, `"-1h"`, `"monthly"`, `30`} {
		_, err := Load(write(t, `{"rotate_after": `+bad+`}`))
		if err == nil || !strings.Contains(err.Error(), "rotate_after") {
			t.Errorf("rotate_after %s: %v, want an error naming rotate_after", bad, err)
		}
	}
}
