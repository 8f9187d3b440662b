package main

// The container image and the compose file, checked without a Docker
// daemon: the Dockerfile's own build command makes a static binary, that
// binary runs as the image runs it (its ENV, ENTRYPOINT and the compose
// file's command and config mount) and serves, and the compose file's
// mounts, ports and grace period agree with the image and the config.

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// dockerStage is one FROM ... stage of a Dockerfile: its base image and
// its instructions in order, each as keyword (upper case) and arguments.
type dockerStage struct {
	from  string
	instr [][2]string
}

// parseDockerfile reads the stages of a Dockerfile: comments and blank
// lines are dropped and backslash-continued lines joined.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages []dockerStage
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(text, "\\"); ok {
			line += cont + " "
			continue
		}
		line += text
		keyword, args, _ := strings.Cut(line, " ")
		keyword, args, line = strings.ToUpper(keyword), strings.TrimSpace(args), ""
		if keyword == "FROM" {
			stages = append(stages, dockerStage{from: args})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s: %s before the first FROM", path, keyword)
		}
		s := &stages[len(stages)-1]
		s.instr = append(s.instr, [2]string{keyword, args})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return stages
}

// all returns the arguments of every keyword instruction of the stage.
func (s dockerStage) all(keyword string) []string {
	var out []string
	for _, in := range s.instr {
		if in[0] == keyword {
			out = append(out, in[1])
		}
	}
	return out
}

// last returns the arguments of the stage's last keyword instruction.
func (s dockerStage) last(t *testing.T, keyword string) string {
	t.Helper()
	all := s.all(keyword)
	if len(all) == 0 {
		t.Fatalf("stage FROM %s has no %s", s.from, keyword)
	}
	return all[len(all)-1]
}

// env returns the stage's ENV settings (the KEY=value form).
func (s dockerStage) env(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, args := range s.all("ENV") {
		for _, kv := range strings.Fields(args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("ENV %q: want KEY=value", args)
			}
			env[k] = v
		}
	}
	return env
}

func jsonArray(t *testing.T, keyword, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Fatalf("%s %s: want the JSON (exec) form: %v", keyword, args, err)
	}
	return out
}

var goBuildRE = regexp.MustCompile(`^((?:[A-Z_]+=\S+ )*)go build (.*) -o (\S+) \.`)

func TestDockerImageRunsAsBuilt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a static binary")
	}
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]

	// The runtime stage: no shell or C library, a non-root user.
	if !strings.Contains(final.from, "distroless/static") && final.from != "scratch" {
		t.Errorf("runtime stage FROM %s: want a static base (distroless/static or scratch)", final.from)
	}
	user := final.last(t, "USER")
	uid, err := strconv.Atoi(strings.Split(user, ":")[0])
	if err != nil || uid == 0 {
		t.Errorf("USER %q: want a numeric non-root uid", user)
	}

	// The build stage's go build, run here as the image's build runs it.
	var buildCmd []string
	for _, run := range build.all("RUN") {
		first, _, _ := strings.Cut(run, " && ")
		if m := goBuildRE.FindStringSubmatch(first); m != nil {
			buildCmd = m
		}
	}
	if buildCmd == nil {
		t.Fatal("build stage: no RUN [VAR=value ...] go build ... -o <path> .")
	}
	if !strings.Contains(buildCmd[1], "CGO_ENABLED=0") {
		t.Errorf("go build without CGO_ENABLED=0: the binary would need a C library the runtime image lacks")
	}
	bin := filepath.Join(t.TempDir(), "switchboard")
	cmd := exec.Command("sh", "-c", buildCmd[1]+"go build "+buildCmd[2]+" -o "+bin+" .")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	checkStatic(t, bin)

	// The binary lands where ENTRYPOINT runs it from.
	entry := jsonArray(t, "ENTRYPOINT", final.last(t, "ENTRYPOINT"))
	copied := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		copied = copied || (strings.HasPrefix(f[0], "--from=") && f[len(f)-2] == buildCmd[3] && f[len(f)-1] == entry[0])
	}
	if !copied {
		t.Errorf("no COPY --from=<build> %s %s: ENTRYPOINT %v would not find the binary", buildCmd[3], entry[0], entry)
	}

	// The store goes to the volume, whose mount point the user owns.
	env := final.env(t)
	dataDir := env["SWITCHBOARD_DATA_DIR"]
	volumes := jsonArray(t, "VOLUME", final.last(t, "VOLUME"))
	if dataDir == "" || !slices.Contains(volumes, dataDir) {
		t.Errorf("ENV SWITCHBOARD_DATA_DIR=%q is not a VOLUME %v: the store would be lost with the container", dataDir, volumes)
	}
	owned := false
	for _, c := range final.all("COPY") {
		f := strings.Fields(c)
		owned = owned || (slices.Contains(f, "--chown="+user) && f[len(f)-1] == dataDir)
	}
	if !owned {
		t.Errorf("no COPY --chown=%s ... %s: a new volume at %s would not be writable by the gateway", user, dataDir, dataDir)
	}
	_, port, err := net.SplitHostPort(env["SWITCHBOARD_LISTEN"])
	if err != nil || !slices.Contains(strings.Fields(final.last(t, "EXPOSE")), port) {
		t.Errorf("ENV SWITCHBOARD_LISTEN=%q does not serve on the EXPOSEd port %q", env["SWITCHBOARD_LISTEN"], final.last(t, "EXPOSE"))
	}

	// As the image runs it: its ENV, with the address and the data
	// directory moved to this machine, and the embedded config.
	run := func(t *testing.T, args ...string) {
		data := t.TempDir()
		cmd := exec.Command(bin, append(entry[1:], args...)...)
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		cmd.Env = append(cmd.Env, "SWITCHBOARD_LISTEN="+freeLoopback(t), "SWITCHBOARD_DATA_DIR="+data,
			"SWITCHBOARD_API_KEY=sk-sb-container-test")
		p := startGateway(t, "container gateway", cmd)
		resp, err := http.Get(p.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz: %d", resp.StatusCode)
		}
		p.stop(t)
		if m, _ := filepath.Glob(filepath.Join(data, "MANIFEST-*")); len(m) == 0 {
			t.Errorf("no store in SWITCHBOARD_DATA_DIR %s", data)
		}
	}
	t.Run("embedded config", func(t *testing.T) { run(t) })

	// As deploy/compose.yaml and deploy/single.yaml run it: the
	// command, the config mount.
	for name, service := range map[string]func(*testing.T, dockerStage, string) ([]string, map[string]string){
		"compose": composeService, "single-node compose": singleService,
	} {
		t.Run(name, func(t *testing.T) {
			args, mounts := service(t, final, port)
			for i, a := range args {
				if src, ok := mounts[a]; ok {
					args[i] = src
				}
			}
			run(t, args...)
		})
	}
}

// composeFile is what the test reads of deploy/compose.yaml.
type composeFile struct {
	Services map[string]struct {
		Build struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		Command         []string `yaml:"command"`
		Ports           []string `yaml:"ports"`
		Volumes         []string `yaml:"volumes"`
		StopGracePeriod string   `yaml:"stop_grace_period"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// composeService checks deploy/compose.yaml's gateway services against
// the image (nginx in front publishes the port; the gateways are behind
// it, on the image's port as deploy/nginx.conf names them) and returns
// gateway-1's command and its bind mounts, container path to the file on
// this machine.
func composeService(t *testing.T, final dockerStage, port string) (command []string, mounts map[string]string) {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(mustRead(t, "deploy/compose.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gateway-2", "gateway-3", "postgres", "redis"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("deploy/compose.yaml: no service %s", name)
		}
	}
	nginx := c.Services["nginx"]
	if !slices.Contains(nginx.Volumes, "./nginx.conf:/etc/nginx/nginx.conf:ro") {
		t.Errorf("nginx volumes %v: want deploy/nginx.conf as its config", nginx.Volumes)
	}
	if len(nginx.Ports) != 1 || !strings.HasSuffix(nginx.Ports[0], ":8080") {
		t.Errorf("nginx ports %v: want nginx.conf's listen 8080 published", nginx.Ports)
	}
	if conf := string(mustRead(t, "deploy/nginx.conf")); !strings.Contains(conf, "server gateway-1:"+port+" ") {
		t.Errorf("deploy/nginx.conf does not send to gateway-1 on the image's port %s", port)
	}
	return gatewayService(t, c, "deploy/compose.yaml", "gateway-1", final)
}

// singleService checks deploy/single.yaml, the one-node compose file,
// and returns its gateway's command and bind mounts as composeService.
func singleService(t *testing.T, final dockerStage, port string) (command []string, mounts map[string]string) {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(mustRead(t, "deploy/single.yaml"), &c); err != nil {
		t.Fatal(err)
	}
	if svc := c.Services["switchboard"]; len(svc.Ports) != 1 || !strings.HasSuffix(svc.Ports[0], ":"+port) {
		t.Errorf("deploy/single.yaml ports %v: want the image's port %s published", svc.Ports, port)
	}
	return gatewayService(t, c, "deploy/single.yaml", "switchboard", final)
}

// gatewayService checks the gateway service name of the compose file
// c, read from file, against the image: built from the repository's
// Dockerfile, its store on a named volume, its bind mounts present, a
// stop grace period longer than the drain. It returns its command and
// bind mounts, container path to the file on this machine.
func gatewayService(t *testing.T, c composeFile, file, name string, final dockerStage) (command []string, mounts map[string]string) {
	t.Helper()
	svc, ok := c.Services[name]
	if !ok {
		t.Fatalf("%s: no service %s", file, name)
	}
	if df := filepath.Join("deploy", svc.Build.Context, svc.Build.Dockerfile); filepath.Clean(df) != "Dockerfile" {
		t.Errorf("build %s: want the repository's Dockerfile", df)
	}
	dataDir := final.env(t)["SWITCHBOARD_DATA_DIR"]
	mounts = map[string]string{}
	dataVolume := false
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		src, dst := parts[0], parts[1]
		if dst == dataDir {
			_, named := c.Volumes[src]
			dataVolume = named
			continue
		}
		path := filepath.Join("deploy", src)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("volume %s: %v", v, err)
		}
		mounts[dst] = path
	}
	if !dataVolume {
		t.Errorf("volumes %v: no named volume at %s, the store", svc.Volumes, dataDir)
	}
	// Docker's stop sends SIGTERM and kills after the grace period: it
	// must outlast the drain, which the embedded config sets.
	grace, err := time.ParseDuration(svc.StopGracePeriod)
	drain := drainTimeout(t)
	if err != nil || grace <= drain {
		t.Errorf("stop_grace_period %q: want longer than server.drain_timeout %s, or docker kills open streams", svc.StopGracePeriod, drain)
	}
	return svc.Command, mounts
}

// drainTimeout reads server.drain_timeout from the embedded config.
func drainTimeout(t *testing.T) time.Duration {
	t.Helper()
	var cfg struct {
		Server struct {
			DrainTimeout string `yaml:"drain_timeout"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal(mustRead(t, "configs/switchboard.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	d, err := time.ParseDuration(cfg.Server.DrainTimeout)
	if err != nil {
		t.Fatalf("configs/switchboard.yaml server.drain_timeout: %v", err)
	}
	return d
}

// checkStatic fails unless bin is a static ELF: no interpreter, no shared
// libraries.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: not a static binary", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
