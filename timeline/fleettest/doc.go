// Package fleettest holds the end-to-end tests of lease timelines: a
// scripted fleet of replicas runs rounds through the real lease library on
// real etcd, NATS and Consul, and the timeline `leasectl history` draws (or,
// on Consul, the one a watch records as the console does) must match a
// golden file. It has no code besides its tests.
package fleettest
