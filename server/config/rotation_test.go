package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portusproject/portus/server/config"
)

func TestRotationGrace(t *testing.T) {
	if c := mustLoad(t, nil, nil); c.RotationGrace != 10*time.Minute || config.DefaultRotationGrace != 10*time.Minute {
		t.Errorf("default rotation_grace = %s, want 10m", c.RotationGrace)
	}
	file := writeFile(t, "rotation_grace: 0s\n")
	c := mustLoad(t, []string{"--config", file}, nil)
	if c.RotationGrace != 0 {
		t.Errorf("rotation_grace: 0s from the file = %s", c.RotationGrace)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("0s is allowed: %v", err)
	}
	if c := mustLoad(t, nil, map[string]string{"PORTUS_ROTATION_GRACE": "90s"}); c.RotationGrace != 90*time.Second {
		t.Errorf("PORTUS_ROTATION_GRACE=90s gave %s", c.RotationGrace)
	}
	for _, bad := range []string{"-1s", "25h"} {
		c := mustLoad(t, []string{"--rotation-grace", bad}, nil)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--rotation-grace") {
			t.Errorf("--rotation-grace %s: Validate = %v, want an error naming the setting", bad, err)
		}
	}
}
