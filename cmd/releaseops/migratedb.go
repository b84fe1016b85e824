package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/jackc/pgx/v5/pgconn"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// runMigrateDB is `releaseops migrate-db --to URL`: it copies the configured SQLite database
// into an empty PostgreSQL database (or schema, by the URL's search_path) in one transaction,
// then checks the target against the source: every table's row count, the audit chain, and
// every score. Exit 0 only when all of it matches.
func runMigrateDB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate-db", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "PostgreSQL URL of the empty target; its search_path picks the schema (default: storage.postgres_url)")
	path := fs.String("config", "", "config file naming storage.sqlite_path (default: RELEASEOPS_CONFIG, else embedded defaults)")
	timeout := fs.Duration("timeout", time.Hour, "give up after this long; no row is then copied (the schema may have been created)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q: usage: releaseops migrate-db --to postgres://... [--config FILE]", fs.Arg(0))}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	url := *to
	if url != "" {
		if _, err := pgconn.ParseConfig(url); err != nil {
			// Not pgx's message: it may quote the URL, password and all.
			return &exitError{code: 2, err: errors.New("--to is not a valid PostgreSQL URL or DSN (postgres://user@host:5432/db?search_path=schema)")}
		}
	}
	if url == "" {
		// Lets the password stay out of the command line (and ps): RELEASEOPS_STORAGE_POSTGRES_URL.
		url = cfg.Storage.PostgresURL.Value()
	}
	if url == "" {
		return &exitError{code: 2, err: errors.New("--to postgres://... is required (or set storage.postgres_url)")}
	}
	source := cfg.Storage.SQLitePath
	if st, err := os.Stat(source); err != nil || st.IsDir() {
		return &exitError{code: 1, err: fmt.Errorf("no SQLite database at %s (storage.sqlite_path): nothing to copy; point --config at the config `serve` used", source)}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	log := newLogger(cfg, stderr)

	src, dst, err := openForCopy(ctx, cfg, source, url, log)
	if err != nil {
		return err
	}
	defer src.Close()
	defer dst.Close()
	log.Info("copying", "from", src.Path(), "to", dst.Path())
	rep, err := storage.CopyInto(ctx, src, dst)
	if errors.Is(err, storage.ErrTargetNotEmpty) {
		return &exitError{code: 1, err: fmt.Errorf("%w; nothing was written", err)}
	}
	if err != nil {
		// The copy is one transaction, so no row stays unless the commit itself went through
		// before its answer was lost; sequences and the created schema are not rolled back.
		return fmt.Errorf("%w; no row was copied unless the failure was in the commit itself (then a second run says the target is not empty): drop the schema before trying again", err)
	}
	problems, err := verifyCopy(ctx, src, dst, rep, stdout)
	if err != nil {
		return fmt.Errorf("copied, but the check could not finish: %w", err)
	}
	where := dst.Path() + " (schema " + rep.Schema + ")"
	if len(problems) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("the copy in %s does not match the source: %s; do not serve from it (drop the schema before trying again)",
			where, strings.Join(problems, "; "))}
	}
	fmt.Fprintf(stdout, "copied %s into %s in %s: every count, the audit chain and every score match\n",
		src.Path(), where, rep.Took.Round(time.Millisecond))
	return nil
}

// openForCopy opens the SQLite source and the PostgreSQL target. Neither indexes while the
// command runs: the indexer would move the unindexed tail into the service indexes on one side
// and not the other, and the counts would differ for a reason that is no fault of the copy.
// The next serve indexes the tail on the target as it would have on the source.
func openForCopy(ctx context.Context, cfg *config.Config, source, url string, log *slog.Logger) (src, dst *storage.DB, err error) {
	opts := storage.DefaultOptions()
	opts.Synchronous = cfg.Storage.Synchronous
	opts.BusyTimeout = cfg.Storage.BusyTimeout.Std()
	opts.MaxBatch = cfg.Storage.MaxBatch
	opts.AllowSharedFile = cfg.Storage.AllowSharedFile
	opts.IndexInterval = 100 * 365 * 24 * time.Hour
	opts.Logger = log
	src, err = storage.Open(ctx, source, opts)
	if err != nil {
		return nil, nil, err
	}
	settle(ctx, src, log)
	// The target's indexer takes and renews its lease as a replica's does, and says so: news
	// to no one running a one-off copy.
	opts.Logger = slog.New(quietLeases{log.Handler()})
	dst, err = storage.OpenPostgres(ctx, url, opts)
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	settle(ctx, dst, log)
	return src, dst, nil
}

// settle waits, briefly, until db holds its indexer lease, and warns when another process
// holds it: a serve still running on the source writes what the copy's snapshot will not
// have, and one on the target would write beside the copy. The wait matters for another
// reason too: a DB closed while its first lease acquisition is still in the writer trips the
// race detector in AcquireLease (its write function sets the call's results after Do has
// returned ctx.Err()), and this command closes at once when it refuses a target.
func settle(ctx context.Context, db *storage.DB, log *slog.Logger) {
	// Not a whole number of LeaseRetry: if the lease is held elsewhere, stop waiting between
	// two of RunLeased's attempts, not during one.
	deadline := time.Now().Add(1500 * time.Millisecond)
	for !slices.Contains(db.HeldLeases(), storage.LeaseIndexer) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			if log != nil {
				log.Warn("another process holds this database's indexer lease: stop every serve on it before copying (a lease left by one that just stopped expires in seconds)",
					"db", db.Path())
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verifyCopy prints the per-table counts and the audit and score verdicts, and returns what
// does not match.
func verifyCopy(ctx context.Context, src, dst *storage.DB, rep storage.CopyReport, stdout io.Writer) ([]string, error) {
	var problems []string
	counts, err := dst.TableCounts(ctx)
	if err != nil {
		return nil, err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\tsource\ttarget\t")
	for _, tc := range rep.Tables {
		mark := ""
		if counts[tc.Table] != tc.Source {
			mark = "  DIFFERS"
			problems = append(problems, fmt.Sprintf("%s has %d rows, the source %d", tc.Table, counts[tc.Table], tc.Source))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", tc.Table, tc.Source, counts[tc.Table], mark)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}

	sv, err := gate.Verify(ctx, src)
	if err != nil {
		return nil, err
	}
	dv, err := gate.Verify(ctx, dst)
	if err != nil {
		return nil, err
	}
	switch {
	case !dv.OK:
		verdict := fmt.Sprintf("broken at entry %d: %s", dv.FirstBad, dv.Problem)
		if !sv.OK {
			verdict += fmt.Sprintf(" (the source's is broken too, at entry %d: copied faithfully, but look at it)", sv.FirstBad)
		}
		problems = append(problems, "audit log "+verdict)
		fmt.Fprintln(stdout, "audit log: "+verdict)
	case dv.Head != sv.Head || dv.Entries != sv.Entries:
		problems = append(problems, fmt.Sprintf("audit log has %d entries, head %s; the source %d, head %s", dv.Entries, dv.Head, sv.Entries, sv.Head))
		fmt.Fprintln(stdout, "audit log: verifies, but differs from the source's")
	case dv.Entries == 0:
		fmt.Fprintln(stdout, "audit log: OK, empty")
	default:
		fmt.Fprintf(stdout, "audit log: OK, %d entries, head %s (the source's)\n", dv.Entries, dv.Head)
	}

	diffs, err := storage.CompareScores(ctx, src, dst)
	if err != nil {
		return nil, err
	}
	if len(diffs) > 0 {
		const show = 10
		for i, d := range diffs {
			if i == show {
				fmt.Fprintf(stdout, "  ... and %d more\n", len(diffs)-show)
				break
			}
			fmt.Fprintln(stdout, "  score of "+d)
		}
		problems = append(problems, fmt.Sprintf("%d scores differ", len(diffs)))
		fmt.Fprintf(stdout, "scores: %d differ\n", len(diffs))
	} else {
		fmt.Fprintf(stdout, "scores: identical (%d services)\n", counts["scores"])
	}
	return problems, nil
}

// quietLeases drops the target's lease news (see openForCopy) and passes the rest.
type quietLeases struct{ slog.Handler }

func (h quietLeases) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "renew lease", "lease lost", "acquire lease", "lease acquired":
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietLeases) WithAttrs(as []slog.Attr) slog.Handler {
	return quietLeases{h.Handler.WithAttrs(as)}
}
func (h quietLeases) WithGroup(name string) slog.Handler {
	return quietLeases{h.Handler.WithGroup(name)}
}
