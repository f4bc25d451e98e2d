package web

import (
	"strconv"
	"testing"
	"time"

	"github.com/portusproject/portus/shared/apitypes"
)

func TestJustCreatedOneViewOnly(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	j := newJustCreated()
	j.now = func() time.Time { return now }
	tok := apitypes.CreatedToken{ID: "id1", Name: "ci", Token: "ptk_secret"}
	if !j.put("s1", tok) {
		t.Fatal("put refused")
	}
	if _, ok := j.take("s2", "id1"); ok {
		t.Error("another session took the value")
	}
	if _, ok := j.take("s1", "id2"); ok {
		t.Error("a stale id took the value")
	}
	if got, ok := j.take("s1", "id1"); !ok || got.Token != "ptk_secret" {
		t.Fatalf("the first view: %+v, %v", got, ok)
	}
	if _, ok := j.take("s1", "id1"); ok {
		t.Error("a second view got the value")
	}

	j.put("s1", tok)
	now = now.Add(justCreatedTTL + time.Second)
	if _, ok := j.take("s1", "id1"); ok {
		t.Error("an expired value was shown")
	}
	for i := range justCreatedMax {
		if !j.put("s"+strconv.Itoa(i), tok) {
			t.Fatalf("put %d refused below the bound", i)
		}
	}
	if j.put("one-too-many", tok) {
		t.Error("the map grows past its bound")
	}
	now = now.Add(justCreatedTTL + time.Second)
	if !j.put("one-too-many", tok) || len(j.entries) != 1 {
		t.Errorf("expired entries were not dropped: %d left", len(j.entries))
	}
}
