package storage

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Every statement this package runs in a write function (a call of Exec, QueryRow or Query on
// a *Tx), read from the source, and its writer lock: the shared ones must be exactly those
// listed here, and none of them may touch a table whose writes need ordering across the
// cluster (the audit chain, approvals and votes, the gate's records, sync runs, and the rest
// that is written under the exclusive lock). A statement added to sharedStatements, or a
// shared statement reused in a function of another kind, fails here until it is reviewed.
func TestWriterLockClassifiesEveryStatement(t *testing.T) {
	sites := txStatements(t)
	if len(sites) < 50 {
		t.Fatalf("found %d statements in write functions: the source walk is broken", len(sites))
	}
	// The function and the constant of every statement run under the shared lock.
	wantShared := map[string]bool{
		"InsertDelivery insertDeliverySQL":     true,
		"InsertDelivery insertFactSQL":         true,
		"insertDeliveryPG insertDeliveryPGSQL": true,
		"RecordDiscovered recordDiscoveredSQL": true,
		"PutScore putScoreSQL":                 true,
		"PutScore putHistorySQL":               true,
		"PutScores putScoresPGSQL":             true,
		"SetCursor setCursorSQL":               true,
		"InsertOutbox insertOutboxSQL":         true,
		"InsertOutboxes insertOutboxesPGSQL":   true,
		"UpdateOutbox updateOutboxSQL":         true,
		"FoldOutbox foldOutboxSQL":             true,
		"indexServices step.read":              true,
		"indexServices step.insert":            true,
	}
	// Tables a shared statement may touch: rows decided by their own key (dedupe, upserts by
	// service or name, one writer under a lease) or read up to an id horizon.
	sharedTables := map[string]bool{"deliveries": true, "facts": true, "discovered_services": true, "scores": true,
		"score_history": true, "cursors": true, "outbox": true, "fact_index": true, "delivery_index": true}
	gotShared := map[string]bool{}
	usedKeys := map[string]bool{}
	for _, s := range sites {
		if !s.resolved {
			// Built at run time: it cannot be one of sharedStatements' constants, so it takes
			// the exclusive lock.
			t.Logf("%s: %s (built at run time: exclusive)", s.pos, s.expr)
			continue
		}
		if !sharedStatements[s.sql] {
			continue
		}
		usedKeys[s.sql] = true
		id := s.fn + " " + s.expr
		gotShared[id] = true
		if !wantShared[id] {
			t.Errorf("%s: %s runs %s under the shared writer lock; review it and list it here", s.pos, s.fn, s.expr)
		}
		for _, tb := range tablesOf(s.sql) {
			if !sharedTables[tb] {
				t.Errorf("%s: %s (shared) touches %s, which is written in order under the exclusive lock", s.pos, s.expr, tb)
			}
		}
	}
	for id := range wantShared {
		if !gotShared[id] {
			t.Errorf("%s is no longer run under the shared lock", id)
		}
	}
	for q := range sharedStatements {
		if !usedKeys[q] {
			t.Errorf("sharedStatements lists a statement no write function runs: %.80q", q)
		}
	}
	// The writes that must stay in one order across replicas are all exclusive.
	ordered := regexp.MustCompile(`(?i)\b(audit_log|approvals|approval_votes|gate_observations|sync_runs|sync_subjects|release_members|exemptions|leases)\b`)
	n := 0
	for _, s := range sites {
		if s.resolved && ordered.MatchString(s.sql) {
			n++
			if sharedStatements[s.sql] {
				t.Errorf("%s: %s touches an ordered table under the shared lock", s.pos, s.expr)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d statements on the ordered tables found: the source walk is broken", n)
	}
}

// tablesOf lists the tables a statement names after FROM, INTO, UPDATE or JOIN (CTE names
// and unnest are left out).
func tablesOf(q string) []string {
	re := regexp.MustCompile(`(?i)\b(?:FROM|INTO|UPDATE|JOIN)\s+([a-z_][a-z_0-9]*)`)
	ctes := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?i)(?:WITH|,)\s*([a-z_]+)\s+AS\s*\(`).FindAllStringSubmatch(q, -1) {
		ctes[strings.ToLower(m[1])] = true
	}
	q = regexp.MustCompile(`(?i)\bDO\s+UPDATE\b`).ReplaceAllString(q, "DO") // ON CONFLICT's, not a table's
	var out []string
	for _, m := range re.FindAllStringSubmatch(q, -1) {
		tb := strings.ToLower(m[1])
		if ctes[tb] || tb == "unnest" || tb == "d" || tb == "r" {
			continue
		}
		out = append(out, tb)
	}
	return out
}

type txStatement struct {
	pos, fn, expr string
	sql           string
	resolved      bool
}

// txStatements walks the package's source for statements run on a *Tx: the query argument is
// resolved when it is a literal, a constant, a concatenation of those, or one of the
// indexer's steps (stepStatements).
func txStatements(t *testing.T) []txStatement {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var parsed []*ast.File
	consts := map[string]ast.Expr{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
		for _, d := range af.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || (g.Tok != token.CONST && g.Tok != token.VAR) {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) {
						consts[n.Name] = vs.Values[i]
					}
				}
			}
		}
	}
	var eval func(e ast.Expr) (string, bool)
	eval = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		case *ast.Ident:
			if v, ok := consts[e.Name]; ok {
				return eval(v)
			}
		case *ast.ParenExpr:
			return eval(e.X)
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(e.X)
				b, ok2 := eval(e.Y)
				return a + b, ok1 && ok2
			}
		}
		return "", false
	}
	var out []txStatement
	for _, af := range parsed {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			txVars := map[*ast.Object]bool{}
			ast.Inspect(fd, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncType:
					markTxParams(n, txVars)
				case *ast.AssignStmt: // t := &Tx{...}
					for i, r := range n.Rhs {
						if u, ok := r.(*ast.UnaryExpr); ok {
							if cl, ok := u.X.(*ast.CompositeLit); ok && isIdent(cl.Type, "Tx") && i < len(n.Lhs) {
								if id, ok := n.Lhs[i].(*ast.Ident); ok && id.Obj != nil {
									txVars[id.Obj] = true
								}
							}
						}
					}
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || len(n.Args) == 0 {
						return true
					}
					switch sel.Sel.Name {
					case "Exec", "QueryRow", "Query":
					default:
						return true
					}
					recv, ok := sel.X.(*ast.Ident)
					if !ok || recv.Obj == nil || !txVars[recv.Obj] {
						return true
					}
					s := txStatement{pos: fset.Position(n.Pos()).String(), fn: fd.Name.Name, expr: exprString(n.Args[0])}
					s.sql, s.resolved = eval(n.Args[0])
					if qs, ok := stepStatements[s.expr]; ok && !s.resolved {
						for _, q := range qs {
							s.sql, s.resolved = q, true
							out = append(out, s)
						}
						return true
					}
					out = append(out, s)
				}
				return true
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pos < out[j].pos })
	return out
}

// stepStatements are the indexer's statements, which it takes from the fields of its steps
// (indexServices).
var stepStatements = map[string][]string{
	"step.insert": {indexFactsSQL, indexDeliveriesSQL},
	"step.read":   {readIndexFactsSQL, readIndexDeliveriesSQL},
}

func markTxParams(ft *ast.FuncType, vars map[*ast.Object]bool) {
	if ft.Params == nil {
		return
	}
	for _, f := range ft.Params.List {
		if st, ok := f.Type.(*ast.StarExpr); ok && isIdent(st.X, "Tx") {
			for _, n := range f.Names {
				if n.Obj != nil {
					vars[n.Obj] = true
				}
			}
		}
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.BasicLit:
		if len(e.Value) > 40 {
			return e.Value[:40] + "…"
		}
		return e.Value
	case *ast.CallExpr:
		return exprString(e.Fun) + "(…)"
	case *ast.BinaryExpr:
		return exprString(e.X) + " + " + exprString(e.Y)
	}
	return "expr"
}
