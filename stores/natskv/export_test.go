package natskv

// MapUpdateError exposes the CAS error mapping to the external tests, for the
// one error code a single test server cannot be made to send on demand.
var MapUpdateError = mapUpdateError
