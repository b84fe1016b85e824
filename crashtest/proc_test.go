package crashtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Secrets and tokens of the server under test.
const (
	deploySecret = "crash-deploy-secret"
	ghSecret     = "crash-github-secret"
	pdSecret     = "crash-pagerduty-secret"
	tfSecret     = "crash-terraform-secret"
	slackSecret  = "crash-slack-signing-secret"
	readToken    = "crash-read-token-0123456789"
	gateToken    = "crash-gate-token-0123456789"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/releaseops once per test process, without -race: the subprocess is the
// system under test, and the race detector would only slow the crash loops down.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "releaseops-crashtest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "releaseops")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", binPath, "github.com/releaseops/releaseops/cmd/releaseops")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// writeConfig writes a config for a server on a random loopback port with every source on.
// extra is appended verbatim (more top-level YAML keys).
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: info, format: text}
storage: {sqlite_path: %q, synchronous: FULL}
github: {webhook_secret: %q}
pagerduty: {webhook_secrets: [%q]}
deploy: {webhook_secret: %q}
terraform: {webhook_secret: %q}
slack: {signing_secret: %q}
api:
  tokens:
    - {name: reader, token: %q, scopes: [read]}
    - {name: ci, token: %q, scopes: [read, gate]}
services:
  - {name: checkout, repo: acme/checkout, owner: team-payments, slack_channel: C0CHECKOUT, approvers: [U0ALICE, U0BOB], pagerduty_service_id: PCHK123}
  - {name: search, repo: acme/search, owner: team-discovery}
%s`, filepath.Join(dir, "releaseops.db"), ghSecret, pdSecret, deploySecret, tfSecret, slackSecret, readToken, gateToken, extra)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// proc is one running `releaseops serve`.
type proc struct {
	cmd    *exec.Cmd
	base   string
	done   chan struct{}
	stderr *strings.Builder
	mu     sync.Mutex
}

// start runs `releaseops serve --config cfg` and waits until /readyz answers 200.
func start(t *testing.T, cfg string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "RELEASEOPS_CONFIG=")
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start releaseops: %v", err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), stderr: &strings.Builder{}}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			if p.stderr.Len() < 1<<20 {
				p.stderr.WriteString(line + "\n")
			}
			p.mu.Unlock()
			if strings.Contains(line, "releaseops serving") {
				if i := strings.Index(line, "addr="); i >= 0 {
					a, _, _ := strings.Cut(line[i+len("addr="):], " ")
					select {
					case addr <- a:
					default:
					}
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-p.done:
		t.Fatalf("releaseops exited before serving:\n%s", p.log())
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("releaseops did not start within 30 s:\n%s", p.log())
	}
	p.waitReady(t)
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 300; i++ {
		resp, err := client.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("/readyz never answered 200:\n%s", p.log())
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}
