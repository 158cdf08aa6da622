// Package config loads leasectl's YAML configuration (docs/design.md §7):
// the operator's name, the audit log and the named stores. Errors name the
// file, the line and the field. Secrets are never inline: they come from environment
// variables or files, and are resolved when a store is opened, not when the
// file is parsed, so a config can be checked without them.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kinds of store a config can name.
const (
	KindEtcd   = "etcd"
	KindConsul = "consul"
	KindNATS   = "nats"
	KindMemory = "memory"
)

// DefaultAuditLog is where the audit log goes when the config names none:
// under XDG state, private to the user.
const DefaultAuditLog = "~/.local/state/leasectl/audit.jsonl"

// ErrNoConfig means no config file was given or found; the console then opens
// on the demo.
var ErrNoConfig = errors.New("config: no configuration file")

// Error is a configuration error located in a file.
type Error struct {
	File  string
	Line  int    // 0 when unknown
	Field string // e.g. "stores[1].kind"; "" for the whole file
	Err   error
}

// Error implements error: "config: FILE:LINE: FIELD: message". The
// underlying error's own "config: " prefix is not repeated.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "config: "))
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Config is a loaded configuration file.
type Config struct {
	// File is the path it was loaded from.
	File string
	// Operator names who acts; default $USER@hostname.
	Operator string `yaml:"operator"`
	// AuditLog is the JSON Lines audit log path, with "~/" expanded.
	AuditLog string `yaml:"audit_log"`
	// ReadOnly makes every store read-only.
	ReadOnly bool `yaml:"read_only"`
	// Stores are the configured stores, in file order.
	Stores []Store `yaml:"stores"`
	// Serve configures `leasectl serve`, the browser console's gateway.
	Serve Serve `yaml:"serve"`
}

// Serve is the serve section: where `leasectl serve` listens and who may
// log in to it.
type Serve struct {
	// Listen is the address to listen on when --listen is not given.
	Listen string `yaml:"listen"`
	// Operators may log in with their tokens, any number of times; with
	// none, serve prints a one-time token for the operator above.
	Operators []ServeOperator `yaml:"operators"`
	// Metrics serves the stores' metrics at /metrics, without a session
	// (Prometheus cannot log in), as --metrics does.
	Metrics bool `yaml:"metrics"`
}

// ServeOperator is one person (or team) who may log in to the gateway:
// the name audited for their actions and where their token is. The token
// is a secret, never inline: it is read when serve starts (Token).
type ServeOperator struct {
	// Index is the operator's position in serve.operators, for errors.
	Index int `yaml:"-"`

	Name      string `yaml:"name"`
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	// ReadOnly refuses every write of this operator.
	ReadOnly bool `yaml:"read_only"`

	// Token inline is refused with a pointer to the right field.
	Token string `yaml:"token"`
}

// TLS names the files for a TLS connection. All paths have "~/" expanded.
type TLS struct {
	CA                 string `yaml:"ca"`
	Cert               string `yaml:"cert"`
	Key                string `yaml:"key"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Store is one named store.
type Store struct {
	// File is the config file the store comes from, Line where its entry
	// starts there and Index its position in the stores list: for errors
	// found only when the store is opened (a secret that is not set, a
	// TLS file that is missing).
	File  string `yaml:"-"`
	Line  int    `yaml:"-"`
	Index int    `yaml:"-"`

	Name     string `yaml:"name"`
	Kind     string `yaml:"kind"`
	Prefix   string `yaml:"prefix"`
	ReadOnly bool   `yaml:"read_only"`
	TLS      *TLS   `yaml:"tls"`

	// Color is the store's colour in the consoles, so that an operator
	// sees which store a row or a dialog belongs to: a Lip Gloss colour,
	// "#rrggbb" (or "#rgb") or an ANSI colour number 0 to 255; "" for
	// none. Production marks a store whose actions matter most: every
	// action dialog on it carries a banner.
	Color      string `yaml:"color"`
	Production bool   `yaml:"production"`
	// colorLine is the line of the color field, for its errors; colorNull
	// is set when the field is there without a value (an unquoted "#…"
	// is a YAML comment).
	colorLine int
	colorNull bool

	// etcd
	Endpoints    []string `yaml:"endpoints"`
	Username     string   `yaml:"username"`
	PasswordEnv  string   `yaml:"password_env"`
	PasswordFile string   `yaml:"password_file"`

	// Consul
	Address    string `yaml:"address"`
	Datacenter string `yaml:"datacenter"`
	// WatchShards is the most blocking queries the console's watch of a
	// large prefix holds (0: consul.DefaultWatchShards). Each is one of
	// the connections the agent allows a client address
	// (http_max_conns_per_client, 200 by default); raise both together.
	WatchShards int `yaml:"watch_shards"`

	// Consul ACL token or NATS token.
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`

	// NATS
	URL    string `yaml:"url"`
	Bucket string `yaml:"bucket"`
	Creds  string `yaml:"creds"`

	// Metrics says what `leasectl metrics` and serve's /metrics export of
	// the store.
	Metrics StoreMetrics `yaml:"metrics"`

	// Inline secrets are refused with a pointer to the right field.
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
}

// StoreMetrics is a store's metrics section.
type StoreMetrics struct {
	// PerLease exports series per lease key (expiry, acquisition, last
	// completion, period, overdue, unfinished): six per key, so it is
	// meant for stores with up to a few thousand keys.
	PerLease bool `yaml:"per_lease"`
}

// UnmarshalYAML refuses fields it does not know: a store's custom
// unmarshaler escapes the decoder's KnownFields check, and a misspelt
// per_lease would otherwise be silently off.
func (m *StoreMetrics) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: metrics: want a mapping, e.g. {per_lease: true}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value != "per_lease" {
			return fmt.Errorf("line %d: field %s not found in a store's metrics (known: per_lease)", k.Line, k.Value)
		}
	}
	type plain StoreMetrics
	return n.Decode((*plain)(m))
}

// Path finds the config file: explicit, else $LEASECTL_CONFIG, else
// $XDG_CONFIG_HOME/leasectl/config.yaml (~/.config when unset). It returns
// ErrNoConfig when none was given and the default does not exist.
func Path(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if p := os.Getenv("LEASECTL_CONFIG"); p != "" {
		return p, nil
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", ErrNoConfig
		}
		dir = filepath.Join(home, ".config")
	}
	p := filepath.Join(dir, "leasectl", "config.yaml")
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", ErrNoConfig
		}
		return "", &Error{File: p, Err: err}
	}
	return p, nil
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return Parse(path, b)
}

// Parse validates a config held in memory; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Err: errors.New("empty file: define at least one store")}
		}
		return nil, yamlError(name, err)
	}
	c.File = name
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// UnmarshalYAML records where each store starts, so validation errors can
// name the line.
func (s *Store) UnmarshalYAML(n *yaml.Node) error {
	// A custom unmarshaler escapes the decoder's KnownFields check, so
	// unknown fields (usually typos) are caught here.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !storeFields[k.Value] {
				return fmt.Errorf("line %d: field %s not found in a store (known: %s)", k.Line, k.Value, knownStoreFields())
			}
		}
	}
	type plain Store
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*s = Store(p)
	s.Line = n.Line
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Value == "color" {
				s.colorLine = k.Line
				s.colorNull = v.Kind == yaml.ScalarNode && v.Tag == "!!null"
			}
		}
	}
	return nil
}

// storeFields is the set of YAML names a store accepts.
var storeFields = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[Store]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

func knownStoreFields() string {
	names := make([]string, 0, len(storeFields))
	for n := range storeFields {
		if n != "password" && n != "token" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns yaml.v3's "line N: msg" errors into located Errors.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		err = errors.New(te.Errors[0])
	}
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return &Error{File: file, Line: line, Err: errors.New(m[2])}
	}
	return &Error{File: file, Err: err}
}

var storeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (c *Config) validate() error {
	if len(c.Stores) == 0 {
		return &Error{File: c.File, Field: "stores", Err: errors.New("no stores defined")}
	}
	if c.Operator == "" {
		c.Operator = DefaultOperator()
	}
	if c.AuditLog == "" {
		c.AuditLog = DefaultAuditLog
	}
	var err error
	if c.AuditLog, err = ExpandHome(c.AuditLog); err != nil {
		return &Error{File: c.File, Field: "audit_log", Err: err}
	}
	seen := map[string]int{}
	for i := range c.Stores {
		s := &c.Stores[i]
		s.File, s.Index = c.File, i
		fail := func(field, format string, args ...any) error {
			return &Error{File: c.File, Line: s.Line, Field: fmt.Sprintf("stores[%d].%s", i, field), Err: fmt.Errorf(format, args...)}
		}
		switch {
		case s.Name == "":
			return fail("name", "missing")
		case !storeName.MatchString(s.Name):
			return fail("name", "%q: use letters, digits, '.', '_' and '-'", s.Name)
		}
		if prev, dup := seen[s.Name]; dup {
			return fail("name", "%q already used by the store on line %d", s.Name, prev)
		}
		seen[s.Name] = s.Line
		if s.Password != "" {
			return fail("password", "secrets are never inline: use password_env or password_file")
		}
		if s.Token != "" {
			return fail("token", "secrets are never inline: use token_env or token_file")
		}
		if s.PasswordEnv != "" && s.PasswordFile != "" {
			return fail("password_file", "set password_env or password_file, not both")
		}
		if s.TokenEnv != "" && s.TokenFile != "" {
			return fail("token_file", "set token_env or token_file, not both")
		}
		for _, p := range []*string{&s.PasswordFile, &s.TokenFile, &s.Creds} {
			if *p, err = ExpandHome(*p); err != nil {
				return fail("path", "%v", err)
			}
		}
		if s.TLS != nil {
			for _, p := range []*string{&s.TLS.CA, &s.TLS.Cert, &s.TLS.Key} {
				if *p, err = ExpandHome(*p); err != nil {
					return fail("tls", "%v", err)
				}
			}
			if (s.TLS.Cert == "") != (s.TLS.Key == "") {
				return fail("tls", "cert and key go together")
			}
		}
		if err := s.validateKind(fail); err != nil {
			return err
		}
		if err := s.validateColor(); err != nil {
			return &Error{File: c.File, Line: max(s.colorLine, s.Line), Field: fmt.Sprintf("stores[%d].color", i), Err: err}
		}
	}
	return c.Serve.validate(c.File)
}

// operatorName is what a served operator may be called: it is audited and
// written as a holder id, so no spaces, quotes or control characters.
var operatorName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

func (s *Serve) validate(file string) error {
	seen := map[string]int{}
	for i := range s.Operators {
		o := &s.Operators[i]
		o.Index = i
		fail := func(field, format string, args ...any) error {
			return &Error{File: file, Field: fmt.Sprintf("serve.operators[%d].%s", i, field), Err: fmt.Errorf(format, args...)}
		}
		switch {
		case o.Name == "":
			return fail("name", "missing")
		case !operatorName.MatchString(o.Name):
			return fail("name", "%q: use letters, digits, '.', '_', '@', '+' and '-' (at most 128)", o.Name)
		}
		if prev, dup := seen[o.Name]; dup {
			return fail("name", "%q already used by serve.operators[%d]", o.Name, prev)
		}
		seen[o.Name] = i
		switch {
		case o.Token != "":
			return fail("token", "secrets are never inline: use token_env or token_file")
		case o.TokenEnv != "" && o.TokenFile != "":
			return fail("token_file", "set token_env or token_file, not both")
		case o.TokenEnv == "" && o.TokenFile == "":
			return fail("token_env", "missing: an operator logs in with a token from token_env or token_file")
		}
		var err error
		if o.TokenFile, err = ExpandHome(o.TokenFile); err != nil {
			return fail("token_file", "%v", err)
		}
	}
	return nil
}

// minTokenLength is the shortest operator token accepted: a token guards
// writes to production leases, so it must not be guessable.
const minTokenLength = 16

// ServeToken reads the token of o, the operator at that position in the
// serve section of the config loaded from file. A token that is unset,
// unreadable, empty or shorter than 16 bytes is an *Error naming the field.
func (c *Config) ServeToken(o ServeOperator) (string, error) {
	field := "token_file"
	if o.TokenEnv != "" {
		field = "token_env"
	}
	fail := func(err error) error {
		return &Error{File: c.File, Field: fmt.Sprintf("serve.operators[%d].%s", o.Index, field), Err: err}
	}
	tok, err := Secret(o.TokenEnv, o.TokenFile)
	switch {
	case err != nil:
		return "", fail(err)
	case tok == "":
		return "", fail(errors.New("the token is empty"))
	case len(tok) < minTokenLength:
		return "", fail(fmt.Errorf("the token is shorter than %d bytes", minTokenLength))
	}
	return tok, nil
}

// maxWatchShards bounds watch_shards: an agent's own limit of connections
// per client is rarely raised past a few hundred.
const maxWatchShards = 1000

// validateKind checks the kind and its fields. A field that only makes sense
// for another kind is almost always a copy-paste mistake, so it is an error.
func (s *Store) validateKind(fail func(field, format string, args ...any) error) error {
	foreign := map[string]bool{}
	switch s.Kind {
	case KindEtcd:
		foreign = map[string]bool{"address": s.Address != "", "datacenter": s.Datacenter != "", "watch_shards": s.WatchShards != 0, "url": s.URL != "", "bucket": s.Bucket != "", "creds": s.Creds != ""}
		if s.Username == "" && (s.PasswordEnv != "" || s.PasswordFile != "") {
			return fail("username", "a password needs a username")
		}
		if s.TokenEnv != "" || s.TokenFile != "" {
			return fail("token_env", "etcd authenticates with username and password_env")
		}
	case KindConsul:
		foreign = map[string]bool{"endpoints": len(s.Endpoints) > 0, "username": s.Username != "", "password_env": s.PasswordEnv != "", "password_file": s.PasswordFile != "", "url": s.URL != "", "bucket": s.Bucket != "", "creds": s.Creds != ""}
		if strings.HasPrefix(s.Prefix, "/") {
			return fail("prefix", "Consul keys never start with '/'")
		}
		if s.WatchShards < 0 || s.WatchShards > maxWatchShards {
			return fail("watch_shards", "%d: want 1 to %d (0 or unset: the default)", s.WatchShards, maxWatchShards)
		}
	case KindNATS:
		foreign = map[string]bool{"endpoints": len(s.Endpoints) > 0, "username": s.Username != "", "password_env": s.PasswordEnv != "", "password_file": s.PasswordFile != "", "address": s.Address != "", "datacenter": s.Datacenter != "", "watch_shards": s.WatchShards != 0}
		if s.Bucket == "" {
			return fail("bucket", "missing: a NATS store is one KV bucket")
		}
		if s.Creds != "" && (s.TokenEnv != "" || s.TokenFile != "") {
			return fail("creds", "set creds or a token, not both")
		}
	case KindMemory:
		foreign = map[string]bool{"endpoints": len(s.Endpoints) > 0, "address": s.Address != "", "watch_shards": s.WatchShards != 0, "url": s.URL != "", "bucket": s.Bucket != "", "tls": s.TLS != nil}
	case "":
		return fail("kind", "missing (want etcd, consul, nats or memory)")
	default:
		return fail("kind", "unknown kind %q (want etcd, consul, nats or memory)", s.Kind)
	}
	for _, f := range []string{"endpoints", "username", "password_env", "password_file", "address", "datacenter", "watch_shards", "url", "bucket", "creds", "tls"} {
		if foreign[f] {
			return fail(f, "not used by a %s store", s.Kind)
		}
	}
	return nil
}

// hexColor is a colour as "#rrggbb" or "#rgb".
var hexColor = regexp.MustCompile(`^#(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$`)

// validateColor checks the store's colour: what Lip Gloss reads as a
// colour, "#rrggbb", "#rgb" or an ANSI number 0 to 255. Lip Gloss itself
// takes anything, showing no colour for what it cannot read, and a larger
// number as an RGB value: a typo would go unnoticed.
func (s *Store) validateColor() error {
	c := s.Color
	switch {
	case c == "" && s.colorNull:
		return errors.New(`empty: quote a hex colour ("#d70000"), for an unquoted # starts a YAML comment`)
	case c == "", hexColor.MatchString(c):
		return nil
	case strings.HasPrefix(c, "#"):
		return fmt.Errorf("%q: want a hex colour #rrggbb or #rgb", c)
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 || n > 255 {
		return fmt.Errorf("%q: want a hex colour (\"#d70000\") or an ANSI colour number 0 to 255", c)
	}
	return nil
}

// Secret returns the value of a secret named by an environment variable or a
// file (trailing newline trimmed). It fails when the variable is unset or
// the file unreadable, naming which; both empty means "no secret".
func Secret(env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("config: environment variable %s is not set", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("config: read secret: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}

// fieldError locates err, a problem of the store's field found when it is
// opened, in the config file.
func (s Store) fieldError(field string, err error) error {
	return &Error{File: s.File, Line: s.Line, Field: fmt.Sprintf("stores[%d].%s", s.Index, field), Err: err}
}

// secret is Secret for one of the store's secrets, its error located at
// the field that names it.
func (s Store) secret(envField, env, fileField, file string) (string, error) {
	v, err := Secret(env, file)
	if err != nil {
		field := fileField
		if env != "" {
			field = envField
		}
		return "", s.fieldError(field, err)
	}
	return v, nil
}

// Find returns the stores named in names, in the config's order; all stores
// when names is empty. An unknown name is an error listing the known ones.
func (c *Config) Find(names []string) ([]Store, error) {
	if len(names) == 0 {
		return c.Stores, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Store
	for _, s := range c.Stores {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	for n := range want {
		known := make([]string, len(c.Stores))
		for i, s := range c.Stores {
			known[i] = s.Name
		}
		return nil, fmt.Errorf("config: %s: no store named %q (have %s)", c.File, n, strings.Join(known, ", "))
	}
	return out, nil
}

// DefaultOperator is $USER@hostname, the operator name when none is set.
func DefaultOperator() string {
	name := os.Getenv("USER")
	if name == "" {
		// $USER is often unset in containers, cron and tmux sessions.
		if u, err := user.Current(); err == nil && u.Username != "" {
			name = u.Username
		} else {
			name = "unknown"
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return name
	}
	return name + "@" + host
}

// ExpandHome replaces a leading "~/" with the user's home directory.
func ExpandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %q: %w", path, err)
	}
	return filepath.Join(home, path[1:]), nil
}
