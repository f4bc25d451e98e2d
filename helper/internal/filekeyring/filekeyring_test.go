package filekeyring

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/zalando/go-keyring"
)

func TestSetGetDelete(t *testing.T) {
	k := Keyring{Path: filepath.Join(t.TempDir(), "keyring.json")}
	if _, err := k.Get("svc", "u"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("Get on a missing file: %v", err)
	}
	if err := k.Set("svc", "u", "secret"); err != nil {
		t.Fatal(err)
	}
	if v, err := k.Get("svc", "u"); err != nil || v != "secret" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if err := k.Delete("svc", "u"); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete("svc", "u"); !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestConcurrentSets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyring.json")
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := (Keyring{Path: path}).Set("svc", fmt.Sprint(i), "v"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := range 10 {
		if _, err := (Keyring{Path: path}).Get("svc", fmt.Sprint(i)); err != nil {
			t.Errorf("item %d lost: %v", i, err)
		}
	}
}
