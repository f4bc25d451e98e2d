package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/portusproject/portus/server/account"
	"github.com/portusproject/portus/server/config"
	"github.com/portusproject/portus/server/internal/testetcd"
	"github.com/portusproject/portus/server/registryauth"
	"github.com/portusproject/portus/server/store/boltstore"
)

// followingCore opens a replica of c and follows its signing keys as
// Serve does.
func followingCore(t *testing.T, c config.Config) *Core {
	t.Helper()
	core, err := OpenCore(c, account.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { core.Close() })
	issuer, err := core.Issuer()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go followSigningKeys(ctx, issuer.Live, slog.New(slog.DiscardHandler))
	return core
}

// waitSigning waits until core signs with kid and returns how long it took.
func waitSigning(t *testing.T, core *Core, kid string) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 3*registryauth.ReloadInterval {
		if core.issuer.CurrentSigner().KeyID() == kid {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("still signing with %s, not %s, after %s", core.issuer.CurrentSigner().KeyID(), kid, 3*registryauth.ReloadInterval)
	return 0
}

// TestEtcdReplicasSwitchTogether: an activation on one replica switches
// it at once and the other within registryauth.ReloadInterval; both
// publish the same keys at every step.
func TestEtcdReplicasSwitchTogether(t *testing.T) {
	cluster := testetcd.Start(t, 1)
	c := config.Defaults()
	c.Store = cluster.Spec()
	c.EtcdSecretsKeyFile = writeKeyFile(t, "etcd.key")
	c.Data = t.TempDir()
	a := followingCore(t, c)
	c.Data = t.TempDir()
	b := followingCore(t, c)
	keys := signingKeys{a}

	st, err := keys.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Keys) != 2 || st.Keys[1].Role != registryauth.RoleNext {
		t.Fatalf("after rotate: %+v", st)
	}
	oldKid, newKid := st.Keys[0].KeyID, st.Keys[1].KeyID
	time.Sleep(registryauth.ReloadInterval + 500*time.Millisecond)
	if kid := b.issuer.CurrentSigner().KeyID(); kid != oldKid {
		t.Fatalf("replica b signs with %s after rotate, want the current %s", kid, oldKid)
	}
	if got, want := string(b.issuer.CurrentSigner().CertificatePEM()), string(a.issuer.CurrentSigner().CertificatePEM()); got != want {
		t.Fatal("the replicas publish different bundles after rotate")
	}

	if _, err := keys.Activate(); err != nil {
		t.Fatal(err)
	}
	if kid := a.issuer.CurrentSigner().KeyID(); kid != newKid {
		t.Fatalf("the activating replica signs with %s, want %s at once", kid, newKid)
	}
	took := waitSigning(t, b, newKid)
	t.Logf("replica b switched %s after the activation (ReloadInterval %s)", took.Round(time.Millisecond), registryauth.ReloadInterval)
	if took > registryauth.ReloadInterval+time.Second {
		t.Errorf("replica b took %s to switch", took)
	}
	if _, err := (signingKeys{b}).Retire(false); err == nil {
		t.Error("retire on replica b right after the activation was accepted")
	}
	if _, err := (signingKeys{b}).Retire(true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(registryauth.ReloadInterval + 500*time.Millisecond)
	for name, core := range map[string]*Core{"a": a, "b": b} {
		if n := len(signingKeys{core}.rotation().Status(core.issuer.CurrentSigner()).Keys); n != 1 {
			t.Errorf("replica %s publishes %d keys after retire, want 1", name, n)
		}
	}
}

// TestBoltServerFollowsFiles: with bbolt a server follows a rotation made
// through the data directory's secret files (registry-config and an
// offline command use them), and registry-config's bundle is the server's.
func TestBoltServerFollowsFiles(t *testing.T) {
	c := config.Defaults()
	c.Data, c.Issuer = t.TempDir(), "portus"
	core := followingCore(t, c)
	rot := registryauth.KeyRotation{Keeper: boltstore.SecretFiles{Dir: c.Data}, MaxTokenLifetime: c.TokenTTL}
	if err := rot.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := rot.Activate(); err != nil {
		t.Fatal(err)
	}
	offline, err := LoadIssuer(c)
	if err != nil {
		t.Fatal(err)
	}
	waitSigning(t, core, offline.Signer.KeyID())
	if string(offline.Signer.CertificatePEM()) != string(core.issuer.CurrentSigner().CertificatePEM()) {
		t.Error("registry-config's bundle differs from the server's")
	}
}
