package gate

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// AuditAnchor is the audit entry kind of a checkpoint written into the log itself.
const AuditAnchor = "audit.anchor"

// Checkpoint says "the audit log's entry Seq had hash Head at time At", signed. Published
// outside the database (a file, a Slack channel), it lets a later check see a log cut after
// it: the hash chain alone cannot, since a log with its newest entries deleted is still a
// valid chain.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Head      string    `json:"head"`
	At        time.Time `json:"at"`
	PublicKey string    `json:"public_key"` // base64 Ed25519; names the key, proves nothing by itself
	Signature string    `json:"signature"`  // base64 Ed25519 over message()
}

// message is the signed text: fixed fields in a fixed order, so nothing but these values can
// be read into a signature.
func (c Checkpoint) message() []byte {
	return []byte("releaseops audit checkpoint v1\nseq=" + strconv.FormatInt(c.Seq, 10) + "\nhead=" + c.Head +
		"\nat=" + strconv.FormatInt(c.At.UTC().UnixMilli(), 10) + "\n")
}

// SignCheckpoint makes the checkpoint of entry seq with hash head at at.
func SignCheckpoint(key ed25519.PrivateKey, seq int64, head string, at time.Time) Checkpoint {
	c := Checkpoint{Seq: seq, Head: head, At: at.UTC().Truncate(time.Millisecond),
		PublicKey: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.message()))
	return c
}

// Check verifies the signature with pub (the operator's copy of the public key, not the one
// the checkpoint names).
func (c Checkpoint) Check(pub ed25519.PublicKey) error {
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("checkpoint of entry %d: the signature is not a base64 Ed25519 signature", c.Seq)
	}
	if !ed25519.Verify(pub, c.message(), sig) {
		return fmt.Errorf("checkpoint of entry %d (published %s): the signature does not verify with this public key", c.Seq, c.At.Format(time.RFC3339))
	}
	return nil
}

// Anchorer writes and publishes checkpoints of the audit log.
type Anchorer struct {
	DB  *storage.DB
	Key ed25519.PrivateKey
	Now func() time.Time
	Log *slog.Logger
	// File, if set, gets each checkpoint appended as a JSON line (0600), after its commit.
	File string
	// Publish, if set, queues the checkpoint for publication (a Slack post) inside the
	// transaction that writes it into the log.
	Publish func(t *storage.Tx, c Checkpoint, now time.Time) error
	// Queued is called after a commit that published through the outbox.
	Queued func()
}

// Anchor writes a checkpoint of the newest entry into the log and publishes it, unless the
// newest entry is already a checkpoint (nothing happened since). It reports whether it wrote
// one.
func (a *Anchorer) Anchor(ctx context.Context) (Checkpoint, bool, error) {
	var c Checkpoint
	var wrote bool
	now := a.Now()
	err := a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		wrote = false
		seq, head, kind, err := storage.LastAuditKind(t)
		if err != nil {
			return err
		}
		if seq == 0 || kind == AuditAnchor {
			return nil
		}
		c = SignCheckpoint(a.Key, seq, head, now)
		if err := appendAudit(t, now, audit{Kind: AuditAnchor, Actor: "releaseops", Detail: c}); err != nil {
			return err
		}
		if a.Publish != nil {
			if err := a.Publish(t, c, now); err != nil {
				return fmt.Errorf("queue the checkpoint's publication: %w", err)
			}
		}
		wrote = true
		return nil
	})
	if err != nil {
		return c, false, fmt.Errorf("audit checkpoint: %w", err)
	}
	if !wrote {
		return c, false, nil
	}
	if a.Publish != nil && a.Queued != nil {
		a.Queued()
	}
	if a.File != "" {
		if err := appendCheckpoint(a.File, c); err != nil {
			return c, true, err
		}
	}
	a.Log.Info("audit checkpoint", "seq", c.Seq, "head", c.Head)
	return c, true, nil
}

// Run writes a checkpoint every interval until ctx ends.
func (a *Anchorer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			actx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if _, _, err := a.Anchor(actx); err != nil && ctx.Err() == nil {
				a.Log.Error("audit checkpoint", "err", err)
			}
			cancel()
		}
	}
}

func appendCheckpoint(path string, c Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit.anchor_file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("audit.anchor_file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit.anchor_file %s: %w", path, err)
	}
	return f.Close()
}
