package web

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

var screenshotDir = flag.String("screenshots", "", "keep the browser test's screenshots in this directory, to look at them")

// browserPages are the pages the browser test renders, as a person would open them. A page
// added to the product is added here; the names become the screenshots' file names.
var browserPages = []struct{ name, path string }{
	{"services", "/"},
	{"heatmap", "/heatmap"},
	{"service", "/services/checkout"},
	{"service_blocked", "/services/search"},
	{"event", "/events/deploy/checkout-deploy-031"},
	{"teams", "/teams"},
	{"team", "/teams/team-payments"},
	{"approvals", "/approvals"},
	{"audit", "/audit"},
	{"initiatives", "/initiatives"},
	{"initiative", "/initiatives/json-logs"},
	{"gate_report", "/gate/report"},
	{"exemptions", "/exemptions"},
	{"playbooks", "/playbooks"},
	{"playbook", "/playbooks/rollback_readiness"},
	{"not_found", "/services/checkot"},
}

// browserWidths are the window sizes each page is looked at in: a laptop and a phone.
var browserWidths = []struct {
	name          string
	width, height int
}{{"wide", 1280, 1100}, {"narrow", 390, 1100}}

// chromiumPath finds the browser: RELEASEOPS_CHROMIUM, or the Debian package's binary.
func chromiumPath() string {
	if p := os.Getenv("RELEASEOPS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pageWatch serves the pages with a report-uri added to their Content-Security-Policy, so
// the browser tells the server about anything the policy blocked, and notes every request
// the pages made that failed.
type pageWatch struct {
	next http.Handler
	mu   sync.Mutex
	csp  []string
	bad  []string
}

func (w *pageWatch) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/csp-report" {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		w.mu.Lock()
		w.csp = append(w.csp, string(b))
		w.mu.Unlock()
		return
	}
	rec := &statusWriter{ResponseWriter: rw}
	w.next.ServeHTTP(rec, r)
	// The browser asks for a favicon on its own; the pages have none and link none.
	if rec.status >= 400 && r.URL.Path != "/favicon.ico" && !isBrowserPage(r.URL.RequestURI()) {
		w.mu.Lock()
		w.bad = append(w.bad, fmt.Sprintf("%s %d", r.URL.RequestURI(), rec.status))
		w.mu.Unlock()
	}
}

func isBrowserPage(uri string) bool {
	for _, p := range browserPages {
		if p.path == uri {
			return true
		}
	}
	return false
}

func (w *pageWatch) take() (csp, bad []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	csp, bad, w.csp, w.bad = w.csp, w.bad, nil, nil
	return csp, bad
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if p := s.Header().Get("Content-Security-Policy"); p != "" {
		s.Header().Set("Content-Security-Policy", p+"; report-uri /csp-report")
	}
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// consoleLine is how Chromium logs a page's console message with --enable-logging=stderr.
var consoleLine = regexp.MustCompile(`:CONSOLE[:(]\d*\)?\]? ?(.*)`)

// shoot renders url headless into file and returns the page's console messages.
func shoot(t *testing.T, bin, url, file string, width, height int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--disable-sync", "--enable-logging=stderr", "--v=0",
		"--user-data-dir="+t.TempDir(), fmt.Sprintf("--window-size=%d,%d", width, height), "--screenshot="+file, url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, out)
	}
	var console []string
	for _, line := range strings.Split(string(out), "\n") {
		if m := consoleLine.FindStringSubmatch(line); m != nil {
			console = append(console, m[1])
		}
	}
	return console
}

// inked is the share of the screenshot's pixels that differ from its most common colour
// (the background), and how many colours it has: a blank or unstyled page has almost none.
func inked(t *testing.T, file string) (share float64, colours int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", file, err)
	}
	counts := map[uint32]int{}
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			counts[(r>>8)<<16|(g>>8)<<8|b>>8]++
		}
	}
	most := 0
	for _, n := range counts {
		most = max(most, n)
	}
	total := bounds.Dx() * bounds.Dy()
	return float64(total-most) / float64(total), len(counts)
}

func screenshotsInto(t *testing.T) string {
	if *screenshotDir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return *screenshotDir
}

// TestPagesInChromium renders every page in headless Chromium at two widths, the way a person
// opens it: each screenshot must show a styled page, and the browser must report no console
// message and no Content-Security-Policy violation (an inline style whose hash is not in the
// policy, a remote image, a script). go test ./web -run TestPagesInChromium -screenshots DIR
// keeps the PNGs to look at.
func TestPagesInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("Chromium is not installed (Debian: apt-get install chromium; or set RELEASEOPS_CHROMIUM): the pages were not checked in a browser")
	}
	if testing.Short() {
		t.Skip("-short: the browser test takes a few seconds a page")
	}
	f := newGateFixture(t)
	d := f.allDeps(t)
	f.Echo = echo.New()
	Register(f.Echo, d)
	watch := &pageWatch{next: f.Echo}
	srv := httptest.NewServer(watch)
	defer srv.Close()
	dir := screenshotsInto(t)

	// The watch must see a violation when there is one, or its silence below proves nothing.
	probe := http.NewServeMux()
	probe.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		// The image's address is a documentation one (TEST-NET-1): the policy blocks it before
		// any request, and were it not to, nothing on the internet would be asked.
		_, _ = io.WriteString(w, `<!doctype html><title>probe</title><p style="color:red">x</p><img src="http://192.0.2.1/x.png">`)
	})
	probeWatch := &pageWatch{next: probe}
	probeSrv := httptest.NewServer(probeWatch)
	defer probeSrv.Close()
	console := shoot(t, bin, probeSrv.URL+"/", filepath.Join(dir, "probe.png"), 400, 300)
	if len(console) == 0 {
		t.Fatal("a page that breaks the policy logged nothing: Chromium's console is not being read")
	}
	if csp, _ := probeWatch.take(); len(csp) == 0 {
		t.Fatal("a page that breaks the policy sent no report to its report-uri: CSP violations are not being collected")
	}

	for _, p := range browserPages {
		for _, w := range browserWidths {
			file := filepath.Join(dir, p.name+"_"+w.name+".png")
			console := shoot(t, bin, srv.URL+p.path, file, w.width, w.height)
			csp, bad := watch.take()
			for _, m := range console {
				t.Errorf("%s (%s): console: %s", p.path, w.name, m)
			}
			for _, r := range csp {
				t.Errorf("%s (%s): CSP violation: %s", p.path, w.name, r)
			}
			for _, r := range bad {
				t.Errorf("%s (%s): the page requested %s", p.path, w.name, r)
			}
			share, colours := inked(t, file)
			if share < 0.03 || colours < 16 {
				t.Errorf("%s (%s): the screenshot looks blank or unstyled (%.1f%% of pixels off the background, %d colours): %s",
					p.path, w.name, share*100, colours, file)
			}
		}
	}
	if *screenshotDir != "" {
		t.Logf("screenshots in %s", dir)
	}
}

// inkedRejectsBlank keeps the blank check honest: a plain white image fails it.
func TestScreenshotCheckRejectsABlankImage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "blank.png")
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if share, colours := inked(t, file); share != 0 || colours != 1 {
		t.Fatalf("a white image has %.2f ink and %d colours", share, colours)
	}
}
