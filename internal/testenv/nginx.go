package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// NginxConf is the path of deploy/nginx.conf, the config the tests
// render for their nginx.
func NginxConf() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy", "nginx.conf")
}

var (
	upstreamServerRE = regexp.MustCompile(`(?m)^(\s*)server gateway-\d+:8080( [^;]*)?;\n`)
	listenRE         = regexp.MustCompile(`(?m)^(\s*)listen 8080;`)
)

// RenderNginx returns deploy/nginx.conf's text for a non-daemon nginx
// whose pid, logs and temp files are in dir: its upstream servers
// replaced by upstreams (host:port, each with the file's server options),
// and its listen address by listen.
func RenderNginx(conf []byte, dir, listen string, upstreams []string) (string, error) {
	s := string(conf)
	m := upstreamServerRE.FindStringSubmatch(s)
	if m == nil {
		return "", fmt.Errorf("no `server gateway-N:8080 ...;` line in the upstream block")
	}
	var servers strings.Builder
	for _, u := range upstreams {
		fmt.Fprintf(&servers, "%sserver %s%s;\n", m[1], u, m[2])
	}
	first := true
	s = upstreamServerRE.ReplaceAllStringFunc(s, func(string) string {
		if first {
			first = false
			return servers.String()
		}
		return ""
	})
	if !listenRE.MatchString(s) {
		return "", fmt.Errorf("no `listen 8080;` line")
	}
	s = listenRE.ReplaceAllString(s, "${1}listen "+listen+";")
	var top strings.Builder
	fmt.Fprintf(&top, "daemon off;\npid %s;\nerror_log %s warn;\n", filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"))
	if os.Geteuid() == 0 {
		top.WriteString("user root;\n") // the workers may read the temp dir
	}
	var temps strings.Builder
	temps.WriteString("http {\n")
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temps, "    %s_temp_path %s;\n", k, filepath.Join(dir, k))
	}
	if !strings.Contains(s, "\nhttp {\n") {
		return "", fmt.Errorf("no `http {` line")
	}
	s = strings.Replace(s, "\nhttp {\n", "\n"+temps.String(), 1)
	return top.String() + s, nil
}

// Nginx is a running nginx.
type Nginx struct {
	// URL is where it serves: http://127.0.0.1:PORT.
	URL  string
	dir  string
	proc *process
}

// StartNginx runs nginx (Debian nginx, installed when missing) on a free
// loopback port in front of upstreams, with deploy/nginx.conf rendered
// by RenderNginx, after `nginx -t` accepted it. It is stopped at the end
// of the test.
func StartNginx(t testing.TB, upstreams []string) *Nginx {
	t.Helper()
	bin := Need(t, "nginx", "nginx")
	dir := ShortTempDir(t)
	conf, err := os.ReadFile(NginxConf())
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	text, err := RenderNginx(conf, dir, addr, upstreams)
	if err != nil {
		t.Fatalf("%s: %v", NginxConf(), err)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(bin, append(args, "-t")...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t rejects the rendered %s: %v\n%s\n%s", NginxConf(), err, out, text)
	}
	p, err := start(exec.Command(bin, args...))
	if err != nil {
		t.Fatal(err)
	}
	n := &Nginx{URL: "http://" + addr, dir: dir, proc: p}
	t.Cleanup(func() {
		p.stop(5 * time.Second)
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "error.log")); err == nil && len(b) > 0 {
				t.Logf("nginx error.log:\n%s", b)
			}
		}
	})
	err = p.waitFor("nginx", 20*time.Second, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
