package etcd

// SetAfterSnapshot makes every watch of s call f after it has sent a
// snapshot and before it opens the change stream, so that a test can
// compact the history in between. Set it before calling Watch.
func SetAfterSnapshot(s *Store, f func()) { s.afterSnapshot = f }
