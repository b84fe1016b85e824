package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/server"
	"github.com/releaseops/releaseops/storage"
)

// Paths of the ceiling handlers Ceilings mounts next to the product's routes.
const (
	EchoPath   = "/bench/echo"
	CommitPath = "/bench/commit"
)

// Ceilings are the two handlers the product is measured against, mounted on the product's own
// router so that they run behind the same http.Server, middleware (metrics, in-flight cap) and
// client as the webhooks:
//   - echo: read the body, answer 202. The cost of HTTP alone.
//   - verify-and-commit: read the body, check its HMAC, insert it into SQLite through the same
//     group-commit writer and pragmas as the product (its own database file), answer 202 after
//     the commit. The cost of a durable, verified ingest with nothing else: no parsing,
//     validation, mapping, facts or rescoring.
type Ceilings struct {
	db       *storage.DB
	verifier *deploy.Source
	maxBody  int64

	mu              sync.Mutex
	batches, writes int
	inTransaction   time.Duration
}

// NewCeilings opens the verify-and-commit database at path with opts (pass the product's).
func NewCeilings(ctx context.Context, path string, opts storage.Options, deploySecret string, maxBody int64) (*Ceilings, error) {
	db, err := storage.Open(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("open ceiling database: %w", err)
	}
	err = db.Writer.Do(ctx, func(t *storage.Tx) error {
		_, err := t.Exec(`CREATE TABLE IF NOT EXISTS bench_raw (
			delivery_id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, body BLOB NOT NULL)`)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create ceiling table: %w", err)
	}
	c := &Ceilings{db: db, verifier: deploy.New(deploySecret), maxBody: maxBody}
	db.Writer.SetOnBatch(c.onBatch)
	return c, nil
}

func (c *Ceilings) onBatch(size int, took time.Duration, _ int) {
	c.mu.Lock()
	c.batches++
	c.writes += size
	c.inTransaction += took
	c.mu.Unlock()
}

// WriterStats returns the verify-and-commit writer's cumulative group commits, the writes
// they held and the time spent inside them, to compare with the product's writer.
func (c *Ceilings) WriterStats() (batches, writes int, inTransaction time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches, c.writes, c.inTransaction
}

// Mount adds the two handlers to e.
func (c *Ceilings) Mount(e *echo.Echo) {
	e.POST(EchoPath, c.echo)
	e.POST(CommitPath, c.commit)
}

// Close closes the ceiling database.
func (c *Ceilings) Close() error { return c.db.Close() }

// Count returns the rows the verify-and-commit handler stored.
func (c *Ceilings) Count(ctx context.Context) (int64, error) {
	var n int64
	err := c.db.Writer.Do(ctx, func(t *storage.Tx) error {
		return t.QueryRow(`SELECT count(*) FROM bench_raw`).Scan(&n)
	})
	return n, err
}

func (c *Ceilings) echo(ec echo.Context) error {
	if _, err := server.ReadBody(ec, c.maxBody); err != nil {
		return err
	}
	return ec.JSON(http.StatusAccepted, map[string]string{"outcome": "stored"})
}

func (c *Ceilings) commit(ec echo.Context) error {
	id, body, err := verified(ec, c.maxBody, c.verifier)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ec.Request().Context(), 8*time.Second)
	defer cancel()
	now := time.Now().UnixMilli()
	err = c.db.Writer.Do(ctx, func(t *storage.Tx) error {
		_, err := t.Exec(`INSERT INTO bench_raw (delivery_id, received_at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, id, now, body)
		return err
	})
	if err != nil {
		return &releaseops.Error{Code: releaseops.EINTERNAL, Message: "cannot store", Err: err}
	}
	return ec.JSON(http.StatusAccepted, map[string]string{"outcome": "stored"})
}

// verified reads a ceiling request's body, checks its signature and returns its delivery id:
// the part every ceiling shares with the product's webhook path.
func verified(ec echo.Context, maxBody int64, v *deploy.Source) (string, []byte, error) {
	body, err := server.ReadBody(ec, maxBody)
	if err != nil {
		return "", nil, err
	}
	h := ec.Request().Header
	if err := v.Verify(h, body); err != nil {
		return "", nil, err
	}
	id := h.Get(DeliveryHeader)
	if id == "" {
		return "", nil, releaseops.Errorf(releaseops.EMALFORMED, "missing %s", DeliveryHeader)
	}
	return id, body, nil
}
