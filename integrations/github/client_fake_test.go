package github

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

const testAppID = 12345

// testKey is one RSA key for the whole test binary: generating it is the slow part.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func testKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())})
}

func appFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "app", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeGitHub answers the App endpoints the way GitHub does (the JSON of testdata/app) under
// an optional path prefix (/api/v3 for Enterprise Server). App endpoints need a JWT signed
// with the test key; every other path is an API call that needs a live installation token.
type fakeGitHub struct {
	t      testing.TB
	srv    *httptest.Server
	prefix string
	ttl    time.Duration // lifetime of minted tokens, from time.Now()

	mu        sync.Mutex
	mints     map[int64]int
	mintPaths []string
	valid     map[string]bool
	rejectAll bool             // every installation token is refused (401)
	repoInst  map[string]int64 // GET /repos/{o}/{r}/installation
	lookups   int
	api       []apiCall
	stray     []string // requests outside the prefix
	jwtErrs   []string
}

type apiCall struct {
	method, path, auth, body string
	status                   int
}

var mintPath = regexp.MustCompile(`^/app/installations/(\d+)/access_tokens$`)
var installationPath = regexp.MustCompile(`^/app/installations/(\d+)$`)
var repoInstallationPath = regexp.MustCompile(`^/repos/([^/]+/[^/]+)/installation$`)

func newFakeGitHub(t testing.TB, prefix string) *fakeGitHub {
	f := &fakeGitHub{t: t, prefix: prefix, ttl: time.Hour, mints: map[int64]int{}, valid: map[string]bool{}, repoInst: map[string]int64{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// APIURL is the api_url a client of the fake is configured with.
func (f *fakeGitHub) APIURL() string { return f.srv.URL + f.prefix + "/" }

func (f *fakeGitHub) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.Path, f.prefix)
	if !ok {
		f.stray = append(f.stray, r.Method+" "+r.URL.Path)
		f.reply(w, http.StatusNotFound, appFixture(f.t, "not_found.json"))
		return
	}
	switch {
	case r.Method == http.MethodPost && mintPath.MatchString(path):
		if !f.checkJWT(w, r) {
			return
		}
		id, _ := strconv.ParseInt(mintPath.FindStringSubmatch(path)[1], 10, 64)
		if id == 999 {
			f.reply(w, http.StatusNotFound, appFixture(f.t, "not_found.json"))
			return
		}
		f.mints[id]++
		f.mintPaths = append(f.mintPaths, r.URL.Path)
		token := fmt.Sprintf("ghs_%d_%d", id, f.mints[id])
		f.valid[token] = true
		body := strings.NewReplacer("TOKEN", token, "EXPIRES_AT", time.Now().Add(f.ttl).UTC().Format(time.RFC3339)).
			Replace(string(appFixture(f.t, "access_token.json")))
		f.reply(w, http.StatusCreated, []byte(body))
	case r.Method == http.MethodGet && path == "/app/installations":
		if !f.checkJWT(w, r) {
			return
		}
		// Two pages of one installation each, linked the way GitHub links them.
		id := "42"
		if r.URL.Query().Get("page") == "2" {
			id = "7"
		} else {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s/app/installations?per_page=1&page=2>; rel="next"`, f.srv.URL, f.prefix))
		}
		f.reply(w, http.StatusOK, []byte("["+f.installation(id)+"]"))
	case r.Method == http.MethodGet && installationPath.MatchString(path):
		if !f.checkJWT(w, r) {
			return
		}
		f.reply(w, http.StatusOK, []byte(f.installation(installationPath.FindStringSubmatch(path)[1])))
	case r.Method == http.MethodGet && repoInstallationPath.MatchString(path):
		if !f.checkJWT(w, r) {
			return
		}
		f.lookups++
		id, ok := f.repoInst[repoInstallationPath.FindStringSubmatch(path)[1]]
		if !ok {
			f.reply(w, http.StatusNotFound, appFixture(f.t, "not_found.json"))
			return
		}
		f.reply(w, http.StatusOK, []byte(f.installation(strconv.FormatInt(id, 10))))
	default:
		f.serveAPI(w, r, path)
	}
}

func (f *fakeGitHub) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	body, _ := io.ReadAll(r.Body)
	call := apiCall{method: r.Method, path: path, auth: r.Header.Get("Authorization"), body: string(body)}
	token, _ := strings.CutPrefix(call.auth, "Bearer ")
	if strings.HasPrefix(token, "ghs_") && (f.rejectAll || !f.valid[token]) {
		call.status = http.StatusUnauthorized
		f.api = append(f.api, call)
		f.reply(w, http.StatusUnauthorized, appFixture(f.t, "bad_credentials.json"))
		return
	}
	switch {
	case r.Method == http.MethodGet && path == "/installation/repositories":
		var page struct {
			TotalCount          int               `json:"total_count"`
			RepositorySelection string            `json:"repository_selection"`
			Repositories        []json.RawMessage `json:"repositories"`
		}
		if err := json.Unmarshal(appFixture(f.t, "installation_repositories.json"), &page); err != nil {
			f.t.Fatal(err)
		}
		i := 0
		if r.URL.Query().Get("page") == "2" {
			i = 1
		} else {
			w.Header().Set("Link", fmt.Sprintf(`<%s%s/installation/repositories?per_page=1&page=2>; rel="next"`, f.srv.URL, f.prefix))
		}
		page.Repositories = page.Repositories[i : i+1]
		b, _ := json.Marshal(page)
		call.status = http.StatusOK
		f.api = append(f.api, call)
		f.reply(w, http.StatusOK, b)
	case r.Method == http.MethodPost:
		call.status = http.StatusNoContent
		f.api = append(f.api, call)
		w.WriteHeader(http.StatusNoContent)
	default:
		call.status = http.StatusOK
		f.api = append(f.api, call)
		f.reply(w, http.StatusOK, []byte(`{"id":1296269,"name":"checkout","full_name":"acme/checkout","private":true,"default_branch":"main"}`))
	}
}

func (f *fakeGitHub) installation(id string) string {
	return strings.Replace(string(appFixture(f.t, "installation.json")), `"id": 42,`, `"id": `+id+`,`, 1)
}

// checkJWT accepts only an RS256 JWT signed with the test key whose issuer is the App id.
func (f *fakeGitHub) checkJWT(w http.ResponseWriter, r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	var claims jwt.RegisteredClaims
	var err error
	if !ok {
		err = fmt.Errorf("no bearer JWT")
	} else {
		_, err = jwt.ParseWithClaims(raw, &claims, func(tok *jwt.Token) (any, error) {
			if tok.Method != jwt.SigningMethodRS256 {
				return nil, fmt.Errorf("alg %v, want RS256", tok.Header["alg"])
			}
			return &testKey().PublicKey, nil
		})
	}
	if err == nil && claims.Issuer != strconv.Itoa(testAppID) {
		err = fmt.Errorf("iss %q, want %d", claims.Issuer, testAppID)
	}
	if err == nil && (claims.ExpiresAt == nil || claims.IssuedAt == nil || claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute) {
		err = fmt.Errorf("iat/exp missing or more than GitHub's 10 minutes apart")
	}
	if err != nil {
		f.jwtErrs = append(f.jwtErrs, r.URL.Path+": "+err.Error())
		f.reply(w, http.StatusUnauthorized, appFixture(f.t, "bad_credentials.json"))
		return false
	}
	return true
}

func (f *fakeGitHub) reply(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func (f *fakeGitHub) revoke(token string) {
	f.mu.Lock()
	delete(f.valid, token)
	f.mu.Unlock()
}

func (f *fakeGitHub) set(fn func(f *fakeGitHub)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeGitHub) snapshot() (mints map[int64]int, api []apiCall, lookups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mints = map[int64]int{}
	for k, v := range f.mints {
		mints[k] = v
	}
	return mints, append([]apiCall(nil), f.api...), f.lookups
}

// noJWTErrors fails the test if any App request carried a JWT GitHub would refuse.
func (f *fakeGitHub) noJWTErrors(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.jwtErrs {
		t.Errorf("JWT refused: %s", e)
	}
}
