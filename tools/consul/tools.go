//go:build tools

// Package tools pins the Consul agent that the Consul driver's tests run
// against. It lives in its own module so Consul's large dependency graph
// stays out of leasectl's go.mod.
package tools

import _ "github.com/hashicorp/consul"
